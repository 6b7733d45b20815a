"""HiLander's options in groups: how it trains, how it chooses its decoding, how it decodes.

:class:`hilander.HiLander` takes three settings objects besides the parameters that shape the
model in every mode (``n_neighbors``, ``aggregation``, ``max_levels``, ``recipe``):

* ``training=`` a :class:`TrainingSettings`: the network's width and depth and how long and
  how fast it meta-trains;
* ``selection=`` a :class:`SelectionSettings`: how ``decoding="auto"`` cross-fits and searches;
* ``decoding=`` ``"auto"`` or a :class:`~hilander.lander.decoding.DecodingSettings`, the
  decoding to use as given.

Each is a frozen dataclass whose fields' constraints are declared once, here, and checked at
``fit`` with scikit-learn's rules (:func:`hilander.base.validate_settings`), like an
estimator's own parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real
from typing import ClassVar

from sklearn.utils._param_validation import Interval, StrOptions

from ..base import POSITIVE_INT, UNIT, UNIT_GRID, Settings
from .aggregation import AGGREGATIONS
from .decoding import DECODINGS, LEFTOVERS

#: Thresholds tried by ``decoding="auto"`` (the paper uses 0.1 for species, 0.9 for faces).
DEFAULT_TAU_GRID = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)



@dataclass(frozen=True)
class TrainingSettings(Settings):
    """How Hi-LANDER's network is built and meta-trained (both modes of ``decoding``).

    Attributes
    ----------
    epochs : int, default=30
        Training epochs; an epoch draws as many seed nodes as the training levels hold.
    batch_size : int, default=1024
        Seed nodes per training step (each with its full neighbourhood).
    hidden : int, default=128
        Width of the network's hidden layers.
    num_layers : int, default=1
        GAT layers of the encoder.
    lr : float or None, default=None
        Learning rate, cosine-annealed (None: the recipe's, 0.01 with Adam for "lander" and
        0.1 with SGD for "paper").
    feature_noise : float or None, default=None
        Norm of the Gaussian noise added to the unit node features during training (None:
        the recipe's, 0.5 for "lander" and 0 for "paper").
    identity_subsets : int or None, default=None
        Extra training hierarchies, each built on a seeded long-tailed re-draw of the
        training identities; the step budget stays the full graph's (None: the recipe's, 4
        for "lander" and 0 for "paper").
    """

    epochs: int = 30
    batch_size: int = 1024
    hidden: int = 128
    num_layers: int = 1
    lr: float | None = None
    feature_noise: float | None = None
    identity_subsets: int | None = None

    _constraints: ClassVar[dict] = {
        "epochs": [POSITIVE_INT],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "hidden": [Interval(Integral, 2, None, closed="left")],
        "num_layers": [POSITIVE_INT],
        "lr": [Interval(Real, 0, None, closed="neither"), None],
        "feature_noise": [Interval(Real, 0, None, closed="left"), None],
        "identity_subsets": [Interval(Integral, 0, None, closed="left"), None],
    }


@dataclass(frozen=True)
class SelectionSettings(Settings):
    """How ``decoding="auto"`` chooses the decoding inside ``fit``.

    Attributes
    ----------
    cv : int, default=3
        Folds of identities to cross-fit over: each fold's network trains on the other
        folds, keeping the checkpoint of best link AUC on its own fold; all training points
        are then clustered at once, each scored by the network that never saw its identity,
        so the choice is made at the scale of the labeled set.
    tau_grid : tuple of float, default=DEFAULT_TAU_GRID
        Thresholds p_τ tried (every level's, then the upper levels', then level 1's again).
    refit : bool, default=True
        Re-train on all identities for the median number of steps whose weights the folds
        kept (False: keep the first fold's network).
    patience : int or None, default=16
        Stop each fold's training after this many evaluations (one per 25 steps) without a
        gain in held-out link AUC (None: train every epoch).
    early_stopping : bool, default=True
        The chosen decoding stops once a level adds more than 1/k of the previous level's
        edges (paper sec. 4.3); not searched.
    record_one_fold : bool, default=False
        Also run the selection on the first fold alone and record in ``selection_["one_fold"]``
        what it would have chosen (the earlier way; about an eighth of the fit's time).
    """

    cv: int = 3
    tau_grid: tuple[float, ...] = DEFAULT_TAU_GRID
    refit: bool = True
    patience: int | None = 16
    early_stopping: bool = True
    record_one_fold: bool = False

    _constraints: ClassVar[dict] = {
        "cv": [Interval(Integral, 2, None, closed="left")],
        "tau_grid": [UNIT_GRID],
        "refit": ["boolean"],
        "patience": [POSITIVE_INT, None],
        "early_stopping": ["boolean"],
        "record_one_fold": ["boolean"],
    }

    def __post_init__(self) -> None:
        if not isinstance(self.tau_grid, tuple) and UNIT_GRID.is_satisfied_by(self.tau_grid):
            object.__setattr__(self, "tau_grid", tuple(self.tau_grid))


#: The constraints of :class:`~hilander.lander.decoding.DecodingSettings`' fields, checked
#: when one is given as ``HiLander(decoding=...)``.
DECODING_CONSTRAINTS: dict[str, list] = {
    "tau": [UNIT],
    "tau_upper": [UNIT, None],
    "max_levels": [POSITIVE_INT, None],
    "decoding": [StrOptions(set(DECODINGS))],
    "n_neighbors": [POSITIVE_INT],
    "aggregation": [StrOptions(set(AGGREGATIONS))],
    "early_stopping": ["boolean"],
    "resolution": [Interval(Real, 0, None, closed="neither"), None],
    "leftovers": [StrOptions(set(LEFTOVERS))],
}

__all__ = ["DECODING_CONSTRAINTS", "DEFAULT_TAU_GRID", "SelectionSettings", "TrainingSettings"]
