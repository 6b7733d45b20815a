"""Draw ``hierarchy_schematic.png``, the figure of docs/how_it_works.rst.

Run once from the repository root (needs matplotlib, the ``study`` extra) and commit the PNG:

    python docs/figures/hierarchy_schematic.py

The docs build only reads the PNG, so it needs neither matplotlib nor this script. The points
are synthetic and the "GNN" is a stand-in (p_ij from the distance to a neighbour and whether
both share an identity, density from the mean p_ij to the k neighbours): the figure shows
Hi-LANDER's decoding steps, not a trained model.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

OUT = Path(__file__).with_name("hierarchy_schematic.png")
K = 4
TAU = 0.6
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf"]


def points(rng):
    """Three identities; the first in two lobes, so level 1 splits it and level 2 rejoins it."""
    centres = [(0.0, 0.0), (1.15, 0.35), (3.4, 0.2), (1.9, 2.4)]
    sizes = [10, 9, 14, 12]
    ident = [0, 0, 1, 2]
    X, y = [], []
    for c, n, i in zip(centres, sizes, ident):
        X.append(rng.normal(c, 0.32, size=(n, 2)))
        y += [i] * n
    return np.vstack(X), np.array(y)


def knn(X, k):
    d = np.linalg.norm(X[:, None] - X[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    return np.argsort(d, axis=1)[:, :k], d


def decode(X, y, lobes, k, tau):
    """One Hi-LANDER level on stand-in predictions: each node keeps its edge to its densest
    denser neighbour with p >= tau; components are the clusters, their densest nodes peaks."""
    nbr, d = knn(X, k)
    n = len(X)
    same = lobes[:, None] == lobes[nbr]
    p = np.where(same, 0.95, 0.1) * np.exp(-d[np.arange(n)[:, None], nbr] / 2.0)
    dens = p.mean(axis=1)
    parent = np.arange(n)
    kept = []
    for i in range(n):
        cand = [(dens[j], j) for j, pij in zip(nbr[i], p[i]) if pij >= tau and dens[j] > dens[i]]
        if cand:
            j = max(cand)[1]
            kept.append((i, j))
            parent[i] = j
    root = parent.copy()
    for _ in range(n):
        root = parent[root]
    return nbr, dens, kept, root


def main() -> None:
    rng = np.random.default_rng(3)
    X, y = points(rng)
    lobes = np.repeat([0, 1, 2, 3], [10, 9, 14, 12])
    nbr, dens, kept, root = decode(X, y, lobes, K, TAU)
    peaks = np.unique(root)
    colour = {r: COLORS[i % len(COLORS)] for i, r in enumerate(peaks)}

    fig, axes = plt.subplots(2, 2, figsize=(9, 7.6))
    axes = axes.ravel()
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlim(-1.0, 4.4)
        ax.set_ylim(-1.1, 3.4)
        ax.set_aspect("equal")

    ax = axes[0]
    for i in range(len(X)):
        for j in nbr[i]:
            ax.plot(*X[[i, j]].T, color="0.75", lw=0.6, zorder=1)
    sc = ax.scatter(*X.T, c=dens, cmap="viridis", s=28, zorder=2, edgecolor="k", lw=0.3)
    ax.set_title("1. k-NN graph; the GNN predicts\n"
                 "each edge's p_ij and each node's density", fontsize=10.5)
    cb = fig.colorbar(sc, ax=ax, fraction=0.04, pad=0.02)
    cb.set_label("density", fontsize=8)
    cb.ax.tick_params(labelsize=7)

    ax = axes[1]
    for i, j in kept:
        ax.annotate("", xy=X[j], xytext=X[i], zorder=1,
                    arrowprops=dict(arrowstyle="->", lw=0.8, color=colour[root[i]]))
    ax.scatter(*X.T, c=[colour[r] for r in root], s=22, zorder=2, edgecolor="k", lw=0.3)
    ax.scatter(*X[peaks].T, marker="*", s=220, c=[colour[r] for r in peaks], zorder=3,
               edgecolor="k", lw=0.6)
    ax.set_title(f"2. each node keeps its edge to its best\ndenser neighbour if p_ij ≥ p_τ "
                 f"({TAU}): {len(peaks)} clusters", fontsize=10.5)

    ax = axes[2]
    # level 2: the peaks are the nodes (feature: the peak's own, "peak" aggregation); the two
    # lobes of identity 0 link, the others link to nothing, so the next level adds no edge
    P = X[peaks]
    ident = y[peaks]
    pnbr, _ = knn(P, 2)
    for a in range(len(peaks)):
        for b in pnbr[a]:
            ax.plot(*P[[a, b]].T, color="0.7", lw=0.7, ls=":", zorder=1)
    for a in range(len(peaks)):
        denser = [b for b in pnbr[a] if ident[b] == ident[a] and dens[peaks[b]] > dens[peaks[a]]]
        if denser:
            b = max(denser, key=lambda b: dens[peaks[b]])
            ax.annotate("", xy=P[b], xytext=P[a], zorder=2,
                        arrowprops=dict(arrowstyle="->", lw=1.4, color="k"))
    ax.scatter(*X.T, c="0.88", s=10, zorder=0)
    ax.scatter(*P.T, marker="*", s=260, c=[colour[r] for r in peaks], zorder=3, edgecolor="k",
               lw=0.6)
    ax.set_title("3. the peaks become the next level's\nnodes; the same step links them",
                 fontsize=10.5)

    ax = axes[3]
    # each final cluster keeps the colour of its densest peak, the root of its level-2 tree
    top = {i: max(peaks[ident == i], key=lambda r: dens[r]) for i in np.unique(ident)}
    final = {r: colour[top[ident[a]]] for a, r in enumerate(peaks)}
    ax.scatter(*X.T, c=[final[r] for r in root], s=26, edgecolor="k", lw=0.3)
    ax.set_title(f"4. no edge added: stop; labels go back\ndown to the points "
                 f"({len(np.unique(ident))} clusters)", fontsize=10.5)

    fig.tight_layout()
    fig.savefig(OUT, dpi=90, bbox_inches="tight")
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
