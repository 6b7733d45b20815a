"""hilander: learn how to cluster embeddings.

The flagship is :class:`HiLander` (Xing et al., ICCV 2021); :mod:`hilander.methods` holds the
unsupervised baselines and :mod:`hilander.supervised` the supervised GNN baselines;
:class:`AutoCluster` picks the best of them for a domain on its labeled identities, and
:class:`Discoverer` learns the encoder and the clusterer together from raw texts or images.
"""

from ._validation import InputError

__version__ = "0.1.0"

__all__ = ["AutoCluster", "Discoverer", "HiLander", "InputError", "__version__"]


def __getattr__(name: str):
    # lazy so that `import hilander` stays cheap for metric-only users
    if name == "HiLander":
        from .lander import HiLander

        return HiLander
    if name == "AutoCluster":
        from .auto import AutoCluster

        return AutoCluster
    if name == "Discoverer":
        from .discover import Discoverer

        return Discoverer
    raise AttributeError(f"module 'hilander' has no attribute {name!r}")
