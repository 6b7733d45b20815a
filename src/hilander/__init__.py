"""hilander: learn how to cluster embeddings.

The flagship is :class:`HiLander` (Xing et al., ICCV 2021); :mod:`hilander.methods` holds the
unsupervised baselines and :mod:`hilander.supervised` the supervised GNN baselines;
:class:`AutoCluster` picks the best of them for a domain on its labeled identities.
"""

from ._validation import InputError

__version__ = "0.1.0"

__all__ = ["AutoCluster", "HiLander", "InputError", "__version__"]


def __getattr__(name: str):
    # lazy so that `import hilander` stays cheap for metric-only users
    if name == "HiLander":
        from .lander import HiLander

        return HiLander
    if name == "AutoCluster":
        from .auto import AutoCluster

        return AutoCluster
    raise AttributeError(f"module 'hilander' has no attribute {name!r}")
