"""The empirical study's four class-disjoint splits of Omniglot and CLINC150 (sec. 1).

*backbone_train* trains the embedding network, *clustering_train* trains the supervised
clustering methods, *validation* drives early stopping and tuning, and *test* is clustered and
scored. Every split is a union of whole *groups* (Omniglot alphabets, CLINC150 domains), so the
splits share no class and no group. The assignment of groups is fixed here, not drawn at
random, so a split is fully described by :meth:`ClassDisjointSplit.describe`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .._validation import InputError

__all__ = ["CLINC150_SPLIT_DOMAINS", "CLINC150_SPLIT_RULE", "OMNIGLOT_BACKGROUND_SPLIT",
           "OMNIGLOT_SPLIT_RULE", "SPLIT_NAMES", "SPLIT_VERSION", "ClassDisjointSplit",
           "clinc150_splits", "make_splits", "omniglot_splits", "split_by_groups"]

SPLIT_NAMES = ("backbone_train", "clustering_train", "validation", "test")

# Bumped whenever a group assignment below changes, so caches keyed on describe() never
# confuse two different splits.
SPLIT_VERSION = 1

# Omniglot: test = the 20 evaluation alphabets (Lake et al.'s protocol). The 30 background
# alphabets are cut by global character ID into three contiguous runs: validation = the last
# 5 (IDs 804-964, as the data README suggests), backbone_train = the first 15 (IDs 1-465) so
# the backbone sees the most classes, clustering_train = the 10 in between (IDs 466-803).
OMNIGLOT_SPLIT_RULE = (
    "test = the 20 evaluation alphabets; background alphabets by global character ID: "
    "backbone_train = IDs 1-465 (15 alphabets), clustering_train = IDs 466-803 (10 alphabets), "
    "validation = IDs 804-964 (5 alphabets)"
)
OMNIGLOT_BACKGROUND_SPLIT = (("backbone_train", 15), ("clustering_train", 10), ("validation", 5))

# CLINC150: test = work, small_talk, meta and validation = utility, as the data README
# recommends. The backbone (a pretrained sentence encoder) is not trained here, but the study
# keeps a backbone_train split, so the six remaining domains are cut in domains.json order:
# the first two to backbone_train, the next four to clustering_train.
CLINC150_SPLIT_DOMAINS: dict[str, tuple[str, ...]] = {
    "backbone_train": ("banking", "credit_cards"),
    "clustering_train": ("kitchen_and_dining", "home", "auto_and_commute", "travel"),
    "validation": ("utility",),
    "test": ("work", "small_talk", "meta"),
}
CLINC150_SPLIT_RULE = (
    "by domain (domains.json order): backbone_train = banking, credit_cards; clustering_train "
    "= kitchen_and_dining, home, auto_and_commute, travel; validation = utility; "
    "test = work, small_talk, meta"
)


@dataclass(frozen=True)
class ClassDisjointSplit:
    """Item indices of the four splits of one loaded dataset.

    ``indices[name]`` are sorted positions into the dataset's arrays; ``groups[name]`` the
    alphabets or domains making up that split. ``split[name]`` is a shortcut for the indices.
    """

    dataset: str
    group_kind: str
    rule: str
    groups: dict[str, tuple[str, ...]]
    indices: dict[str, np.ndarray] = field(repr=False)
    n_classes: dict[str, int]

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.indices:
            raise InputError(f"unknown split {name!r}; choose one of {list(self.indices)}")
        return self.indices[name]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.indices)

    def describe(self) -> dict:
        """Plain JSON-able description: enough to rebuild and to recognise this split."""
        return {
            "dataset": self.dataset,
            "version": SPLIT_VERSION,
            "group_kind": self.group_kind,
            "rule": self.rule,
            "groups": {k: list(v) for k, v in self.groups.items()},
            "n_items": {k: int(v.size) for k, v in self.indices.items()},
            "n_classes": dict(self.n_classes),
        }


def split_by_groups(
    *, dataset: str, group_kind: str, rule: str, labels: np.ndarray, item_groups: np.ndarray,
    group_names: Sequence[str], assignment: Mapping[str, Sequence[str]],
) -> ClassDisjointSplit:
    """Build a split from a group -> split assignment and check that it is class-disjoint.

    ``item_groups[i]`` is the index into ``group_names`` of item ``i``'s group. Every group must
    be assigned to exactly one split, and no class may span two groups.
    """
    labels = np.asarray(labels)
    item_groups = np.asarray(item_groups)
    if labels.shape != item_groups.shape or labels.ndim != 1:
        raise InputError("labels and item_groups must be 1-D arrays of the same length")
    position = {g: i for i, g in enumerate(group_names)}
    seen: dict[str, str] = {}
    for split, groups in assignment.items():
        for g in groups:
            if g not in position:
                raise InputError(f"split {split!r} names unknown {group_kind} {g!r}")
            if g in seen:
                raise InputError(f"{group_kind} {g!r} is in both {seen[g]!r} and {split!r}")
            seen[g] = split
    missing = [g for g in group_names if g not in seen]
    if missing:
        raise InputError(f"{group_kind}s not assigned to any split: {missing}")

    # a class living in two groups would leak across splits
    pairs = np.unique(np.stack([labels, item_groups], axis=1), axis=0)
    classes, counts = np.unique(pairs[:, 0], return_counts=True)
    if (counts > 1).any():
        raise InputError(f"class {classes[counts > 1][0]} spans several {group_kind}s")

    split_of_group = np.empty(len(group_names), dtype=np.int64)
    names = list(assignment)
    for s, split in enumerate(names):
        for g in assignment[split]:
            split_of_group[position[g]] = s
    item_split = split_of_group[item_groups]
    indices = {split: np.flatnonzero(item_split == s) for s, split in enumerate(names)}
    n_classes = {split: int(np.unique(labels[idx]).size) for split, idx in indices.items()}
    return ClassDisjointSplit(
        dataset=dataset,
        group_kind=group_kind,
        rule=rule,
        groups={k: tuple(v) for k, v in assignment.items()},
        indices=indices,
        n_classes=n_classes,
    )


def omniglot_splits(data) -> ClassDisjointSplit:
    """The study's four splits of a loaded :class:`~hilander.study.omniglot.OmniglotData`."""
    background = [a for a in data.alphabet_names if a in data.background_alphabets]
    evaluation = [a for a in data.alphabet_names if a not in data.background_alphabets]
    if len(background) != sum(n for _, n in OMNIGLOT_BACKGROUND_SPLIT):
        raise InputError(
            f"Omniglot split expects 30 background alphabets, the data has {len(background)}"
        )
    assignment: dict[str, tuple[str, ...]] = {}
    start = 0
    for split, n in OMNIGLOT_BACKGROUND_SPLIT:
        assignment[split] = tuple(background[start:start + n])
        start += n
    assignment["test"] = tuple(evaluation)
    return split_by_groups(
        dataset="omniglot", group_kind="alphabet", rule=OMNIGLOT_SPLIT_RULE,
        labels=data.labels, item_groups=data.alphabets, group_names=data.alphabet_names,
        assignment={k: assignment[k] for k in SPLIT_NAMES},
    )


def clinc150_splits(data) -> ClassDisjointSplit:
    """The four domain-disjoint splits of a loaded :class:`~.clinc150.ClincData`."""
    return split_by_groups(
        dataset="clinc150", group_kind="domain", rule=CLINC150_SPLIT_RULE,
        labels=data.labels, item_groups=data.domains, group_names=data.domain_names,
        assignment=CLINC150_SPLIT_DOMAINS,
    )


def make_splits(data) -> ClassDisjointSplit:
    """The study's splits for either real dataset (dispatch on ``data.name``)."""
    name = getattr(data, "name", None)
    if name == "omniglot":
        return omniglot_splits(data)
    if name == "clinc150":
        return clinc150_splits(data)
    raise InputError(f"no split is defined for dataset {name!r}; use omniglot or clinc150")
