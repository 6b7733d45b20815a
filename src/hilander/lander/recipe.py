"""How Hi-LANDER is meta-trained, beyond its public parameters: one frozen recipe.

:class:`hilander.HiLander` exposes what a user tunes; everything else about meta-training
(the edge head's input, the optimiser, how training identities are re-drawn, the ground-truth
levels) is a :class:`Recipe`. ``HiLander(recipe="lander")`` is hilander's own, measured on
held-out identities; ``recipe="paper"`` is the paper's (Xing et al. 2021 and its
supplementary: the edge MLP on ``[h_i, h_j]``, SGD at 0.1 with momentum 0.9, no feature
noise, no identity draws). Options measured worse stay reachable for the ablations through
:mod:`hilander.study.ablation`, which builds other recipes; their numbers are in
``benchmarks/results/ablation/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Recipe:
    """Meta-training choices that are not :class:`~hilander.HiLander` parameters.

    The fields are what the named recipes (:data:`RECIPES`) set. The class constants below
    them are what the library fixes: only the study's ablations vary them, through
    :class:`hilander.study.ablation.AblationRecipe`, which makes each of them a field.

    Attributes
    ----------
    edge_input : str
        What the edge head reads: "relational" (a calibrated cosine base plus a learnt
        correction from class-agnostic relations) or "concat" (the paper's ``[h_i, h_j]``).
    optimizer, lr : str, float
        "adam" or "sgd" (momentum :attr:`momentum`) and its learning rate; cosine-annealed.
    feature_noise : float
        Norm of the Gaussian noise added to unit node features during training.
    identity_subsets : int
        Extra training hierarchies, each on a seeded long-tailed draw of the training
        identities.
    """

    edge_input: str = "relational"
    optimizer: str = "adam"
    lr: float = 0.01
    feature_noise: float = 0.5
    identity_subsets: int = 4

    # -- fixed in the library (fields of the study's AblationRecipe) ----------------------------
    #: base logit of the relational head
    calibration: ClassVar[str] = "cosine"
    #: GAT attention heads (averaged)
    heads: ClassVar[int] = 1
    #: SGD momentum
    momentum: ClassVar[float] = 0.9
    #: L2 weight decay of the optimiser
    weight_decay: ClassVar[float] = 1e-5
    #: class-balanced linkage loss
    balanced: ClassVar[bool] = False
    #: how the identity draws are made ("longtail"; the ablation's "half")
    subset_mode: ClassVar[str] = "longtail"
    #: ground-truth levels: "label_pure" (paper sec. 3.5)
    levels_mode: ClassVar[str] = "label_pure"
    #: neighbour counts of the training graphs (None: the model's ``n_neighbors``)
    train_ks: ClassVar[tuple[int, ...] | None] = None
    #: cap on ground-truth levels per training graph (None: the model's ``max_levels``)
    train_levels: ClassVar[int | None] = None
    #: extra neighbour counts and upper-level aggregations the decoding selection tries
    k_grid: ClassVar[tuple[int, ...]] = ()
    aggregation_grid: ClassVar[tuple[str, ...]] = ()
    #: select on one held-out share of the identities (None: cross-fit over all of them)
    holdout: ClassVar[float | None] = None
    #: the decodings the selection tries after the peak rule
    decodings: ClassVar[tuple[str, ...]] = ("similarity", "infomap", "leiden", "cpm",
                                            "average")
    #: the edge head also reads co-membership in cheap unsupervised partitions
    comembership: ClassVar[bool] = False
    #: the selection also scores a long-tailed resample of the labeled points
    longtail_selection: ClassVar[bool] = False
    #: the selection's last stage tries attaching the points left alone to their
    #: best-linked neighbour's cluster (``DecodingSettings.leftovers``)
    attach_leftovers: ClassVar[bool] = True


#: The recipes :class:`~hilander.HiLander` offers by name. "lander" is the default: validation
#: avg F summed over Omniglot and CLINC150, natural and long-tail, 2.893 (mean of seeds
#: 0/1/2) against 2.360 for the paper's concat head at seed 0 (benchmarks/results/ablation).
RECIPES: dict[str, Recipe] = {
    "lander": Recipe(),
    "paper": Recipe(edge_input="concat", optimizer="sgd", lr=0.1, feature_noise=0.0,
                    identity_subsets=0),
}
