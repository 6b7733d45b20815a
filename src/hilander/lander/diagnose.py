"""Why a fitted Hi-LANDER clusters as it does, measured on labeled points.

Its command-line layer is :mod:`hilander.cli.diagnose` (``hilander diagnose``), which
shares its file name: one concept at two layers.

Per level: ROC AUC of the learnt p_ij and of the raw cosine a_ij for same-identity edges, the
rank correlation of predicted and true density, the positive share, nodes and edges added;
and the p_τ curve. The labels are used to *measure* only; a p_τ picked on that curve is an
ORACLE and is labelled as such.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.stats import spearmanr

from .._validation import InputError, check_features, check_labels, encode_labels, l2_normalize
from ..metrics import avg_f, evaluate
from .hierarchy import LevelTrace, run_hierarchy
from .levels import same_identity, true_density
from .training import link_auc


@dataclass
class LevelDiagnosis:
    level: int
    nodes: int
    edges_added: int
    positive_share: float     # share of k-NN edges joining one identity
    auc_p: float              # ROC AUC of p_ij for same-identity edges
    auc_cosine: float         # the same for the raw cosine a_ij
    density_corr: float       # Spearman correlation of predicted and true d_i


@dataclass
class Diagnosis:
    levels: list[LevelDiagnosis] = field(default_factory=list)
    scores: dict = field(default_factory=dict)   # metrics of the model's own labels
    tau_curve: list[dict] = field(default_factory=list)  # ORACLE: chosen with these labels

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self) -> str:
        out = ["level  nodes  edges_added  pos_share  AUC(p)  AUC(cos)  density_rho"]
        for lv in self.levels:
            out.append(f"{lv.level:>5}  {lv.nodes:>5}  {lv.edges_added:>11}  "
                       f"{lv.positive_share:>9.3f}  {lv.auc_p:>6.3f}  {lv.auc_cosine:>8.3f}  "
                       f"{lv.density_corr:>11.3f}")
        s = self.scores
        out.append(f"labels: avg F {s['avg_f']:.3f} (Fp {s['pairwise_f']:.3f}, Fb "
                   f"{s['bcubed_f']:.3f}), {s['n_clusters']} clusters for {s['n_classes']} "
                   "identities")
        if self.tau_curve:
            out.append("ORACLE p_tau curve (picked with these labels; not a result):")
            for row in self.tau_curve:
                out.append(f"  ORACLE tau={row['tau']:.2f}  avg F {row['avg_f']:.3f}  "
                           f"clusters {row['n_clusters']}")
        return "\n".join(out)


def diagnose(model, X, y, *, tau_curve: bool = True) -> Diagnosis:
    """Diagnose fitted :class:`HiLander` ``model`` on features ``X`` with identities ``y``."""
    model._check_fitted()
    settings = model.settings_
    X = check_features(X, name="X", min_rows=settings.n_neighbors + 1)
    if X.shape[1] != model.n_features_in_:
        raise InputError(f"X has {X.shape[1]} features but the model was trained on "
                         f"{model.n_features_in_}")
    y = encode_labels(check_labels(y, X.shape[0], name="y"))
    X = l2_normalize(X)
    out = Diagnosis()

    def observe(t: LevelTrace) -> None:
        valid = t.nbr >= 0
        same = same_identity(t.nbr, y[t.rep])
        truth = true_density(t.nbr, t.sim, same)
        rho = spearmanr(t.density, truth).statistic if t.density.size > 2 else np.nan
        out.levels.append(LevelDiagnosis(
            level=t.level, nodes=int(t.nbr.shape[0]), edges_added=int(t.n_edges),
            positive_share=float(same[valid].mean()) if valid.any() else float("nan"),
            auc_p=link_auc(t.p, t.nbr, same), auc_cosine=link_auc(t.sim, t.nbr, same),
            density_corr=float(rho)))

    def run(settings, observer=None) -> np.ndarray:
        return run_hierarchy(model.model_, X, settings, knn_method=model.knn_method,
                             seed=model.random_state, observer=observer, cache=cache).labels

    cache: dict = {}
    s = evaluate(y, run(settings, observe))
    out.scores = {**s, "avg_f": avg_f(s)}
    if tau_curve:
        grid = sorted(set(model._selection().tau_grid) | {float(settings.tau)})
        same_upper = settings.tau_upper is None or settings.tau_upper == settings.tau
        for t in grid:
            s = evaluate(y, run(settings.replace(
                tau=t, tau_upper=t if same_upper else settings.tau_upper)))
            out.tau_curve.append({"tau": t, "avg_f": avg_f(s), "n_clusters": s["n_clusters"],
                                  "oracle": True})
    return out
