"""How Hi-LANDER is meta-trained, beyond its public parameters: one frozen recipe.

:class:`hilander.HiLander` exposes what a user tunes; everything else about meta-training
(the edge head's input, the optimiser, how training identities are re-drawn, the ground-truth
levels) is a :class:`Recipe`. ``HiLander(recipe="lander")`` is hilander's own, measured on
held-out identities; ``recipe="paper"`` is the paper's (Xing et al. 2021 and its
supplementary: the edge MLP on ``[h_i, h_j]``, SGD at 0.1 with momentum 0.9, no feature
noise, no identity draws). Options measured worse stay reachable for the ablations through
``benchmarks/experimental.py``, which builds other recipes; their numbers are in
``benchmarks/results/ablation/``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipe:
    """Meta-training choices that are not :class:`~hilander.HiLander` parameters.

    Attributes
    ----------
    edge_input : str
        What the edge head reads: "relational" (a calibrated cosine base plus a learnt
        correction from class-agnostic relations), "concat" (the paper's ``[h_i, h_j]``),
        "symmetric" or "similarity" (ablations only).
    calibration : str
        Base logit of the relational head: "cosine" or "relational" (ablation only).
    heads : int
        GAT attention heads (averaged).
    optimizer, lr, momentum : str, float, float
        "adam" or "sgd", its learning rate and (SGD) momentum; cosine-annealed.
    balanced : bool
        Class-balanced linkage loss.
    feature_noise : float
        Norm of the Gaussian noise added to unit node features during training.
    identity_subsets : int
        Extra training hierarchies, each on a seeded draw of the training identities.
    subset_mode : str
        How those draws are made: "longtail" or "half".
    levels_mode : str
        Ground-truth levels: "label_pure" (paper sec. 3.5) or "density_tree" (authors' code).
    train_ks : tuple of int or None
        Neighbour counts of the training graphs (None: the model's ``n_neighbors``).
    train_levels : int or None
        Cap on ground-truth levels per training graph (None: the model's ``max_levels``).
    k_grid, aggregation_grid : tuple
        Extra neighbour counts and upper-level aggregations the decoding selection tries.
    holdout : float or None
        Select on one held-out share of the identities instead of cross-fitting over all of
        them (the previous default, for the ablation).
    decodings : tuple of str
        The decodings the selection tries after the peak rule.
    comembership : bool
        The edge head also reads whether cheap unsupervised partitions of the same graph put
        i and j together, and their communities' sizes.
    longtail_selection : bool
        The selection also clusters a long-tailed resample of the labeled points (most
        identities keep 1-5) and scores each setting by the mean avg F of the two sets, so
        the choice holds when the data's identities are smaller than the labeled ones.
    attach_leftovers : bool
        The selection's last stage also tries attaching the points left alone to their
        best-linked neighbour's cluster (``DecodingSettings.leftovers``).
    """

    edge_input: str = "relational"
    calibration: str = "cosine"
    heads: int = 1
    optimizer: str = "adam"
    lr: float = 0.01
    momentum: float = 0.9
    balanced: bool = False
    feature_noise: float = 0.5
    identity_subsets: int = 4
    subset_mode: str = "longtail"
    levels_mode: str = "label_pure"
    train_ks: tuple[int, ...] | None = None
    train_levels: int | None = None
    k_grid: tuple[int, ...] = ()
    aggregation_grid: tuple[str, ...] = ()
    holdout: float | None = None
    decodings: tuple[str, ...] = ("similarity", "infomap", "leiden", "cpm", "average")
    comembership: bool = False
    longtail_selection: bool = False
    attach_leftovers: bool = True


#: The recipes :class:`~hilander.HiLander` offers by name. "lander" is the default: validation
#: avg F summed over Omniglot and CLINC150, natural and long-tail, 2.893 (mean of seeds
#: 0/1/2) against 2.360 for the paper's concat head at seed 0 (benchmarks/results/ablation).
RECIPES: dict[str, Recipe] = {
    "lander": Recipe(),
    "paper": Recipe(edge_input="concat", optimizer="sgd", lr=0.1, feature_noise=0.0,
                    identity_subsets=0),
}
