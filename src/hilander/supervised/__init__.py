"""Supervised GNN clustering baselines: GCN-V, GCN-E, GCN-VE, L-GCN and STAR-FC.

Each is an estimator trained with ``fit(X_train, y_train)`` on labeled meta-training
embeddings and applied to new, unlabeled embeddings with ``predict(X)``; ``save(path)`` and
``Class.load(path)`` (or :func:`hilander.persistence.load_model`) round-trip a trained model.
They are registered with every other method in :mod:`hilander.methods.registry`
(``methods.make("gcn_v")``); :func:`make` here accepts only these five.

>>> from hilander import supervised
>>> model = supervised.make("gcn_v", n_neighbors=10, tau=0.7)
>>> type(model).__name__
'GCNV'
"""

from __future__ import annotations

from .._validation import InputError
from ..methods import registry
from ._clusterer import SupervisedClusterer
from .gcn_e import GCNE, GCNVE
from .gcn_v import GCNV
from .lgcn import LGCN
from .star_fc import STARFC


def available() -> list[str]:
    """Names accepted by :func:`make`."""
    return registry.names("supervised")


def make(name: str, **params) -> SupervisedClusterer:
    """A new, untrained estimator of supervised method ``name`` with the given parameters."""
    spec = registry.get_spec(name)
    if spec.kind != "supervised":
        raise InputError(f"{name!r} is not a supervised baseline; choose from {available()}")
    return registry.make(spec.name, **params)


__all__ = ["GCNE", "GCNV", "GCNVE", "LGCN", "STARFC", "SupervisedClusterer", "available",
           "make"]
