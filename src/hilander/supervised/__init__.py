"""Supervised GNN clustering baselines: GCN-V, GCN-E, GCN-VE, L-GCN and STAR-FC.

Each is an estimator trained with ``fit(X_train, y_train)`` on labeled meta-training
embeddings and applied to new, unlabeled embeddings with ``predict(X)``; ``save(path)`` and
``Class.load(path)`` (or :func:`hilander.persistence.load_model`) round-trip a trained model.

>>> from hilander import supervised
>>> model = supervised.make("gcn-v", k=10, tau=0.7).fit(X_train, y_train)  # doctest: +SKIP
>>> labels = model.predict(X_test)  # doctest: +SKIP
"""

from __future__ import annotations

import inspect

from .._validation import InputError
from ._base import SupervisedClusterer
from .gcn_e import GCNE, GCNVE
from .gcn_v import GCNV
from .lgcn import LGCN
from .star_fc import STARFC

#: method name -> estimator class (the command line's ``--method`` values)
METHODS: dict[str, type[SupervisedClusterer]] = {
    "gcn-v": GCNV,
    "gcn-e": GCNE,
    "gcn-ve": GCNVE,
    "lgcn": LGCN,
    "star-fc": STARFC,
}

DESCRIPTIONS = {
    "gcn-v": "GCN-V confidence estimation + tree deduction (Yang et al. 2020)",
    "gcn-e": "l2-norm (or density) confidence + GCN-E links + tree deduction (study App. D)",
    "gcn-ve": "GCN-V confidences + GCN-E links + tree deduction (Yang et al. 2020)",
    "lgcn": "L-GCN link prediction on instance-pivot sub-graphs + propagation (Wang 2019)",
    "star-fc": "STAR-FC structure-preserving sampling + parsing and refinement (Shen 2021)",
}


def available() -> list[str]:
    """Names accepted by :func:`make`."""
    return list(METHODS)


def _canonical(name: str) -> str:
    key = str(name).strip().lower().replace("_", "-")
    aliases = {"gcnv": "gcn-v", "gcne": "gcn-e", "gcnve": "gcn-ve", "gcn-v+e": "gcn-ve",
               "l-gcn": "lgcn", "starfc": "star-fc"}
    return aliases.get(key, key)


def make(name: str, **params) -> SupervisedClusterer:
    """A new, untrained estimator of method ``name`` with the given hyper-parameters."""
    key = _canonical(name)
    cls = METHODS.get(key)
    if cls is None:
        raise InputError(f"unknown supervised method {name!r}; choose from {available()}")
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise InputError(
            f"{key} has no parameter(s) {unknown}; it accepts {sorted(accepted)}"
        )
    model = cls(**params)
    model._check_params()  # fail early (e.g. on the command line), not after loading data
    return model


__all__ = [
    "DESCRIPTIONS", "GCNE", "GCNV", "GCNVE", "LGCN", "METHODS", "STARFC",
    "SupervisedClusterer", "available", "make",
]
