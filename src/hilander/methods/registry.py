"""The one name -> method registry: ``make("hac", linkage="ward")``, ``make("gcn_v")``,
``make("hilander")``, ``make("auto")`` and ``available()``.

Every method of the package is here, unsupervised or meta-trained, named in one style
(lower case, words joined by ``_``); the older hyphenated names of the supervised baselines
(``"gcn-v"``, ``"star-fc"``, ...) still work with a ``FutureWarning``. Meta-trained classes are
imported on first use, so listing methods does not load torch.

Each entry also carries the method's default tuning grid (for the supervised baselines, the
prediction-time threshold tuned on held-out identities without re-training). The study
(Appendix E.2.3) lists the hyperparameters it searched and the values it selected, not the
searched ranges, so every grid spans the study's hyperparameters and contains (or
brackets) its selected values for l2-normalised embeddings, e.g. DP-vMF lam -0.55 / -0.38, ARO
threshold 0.65 / 1.0, CDP threshold -0.2 / 0.6, tree-deduction thresholds 0.6-0.75. A grid
over ``n_clusters`` is replaced by a data-size-dependent one in :func:`hilander.tune.default_grid`.
"""

from __future__ import annotations

import importlib
import inspect
import warnings
from dataclasses import dataclass, field
from typing import Any

from .._validation import InputError
from . import community, density, graph_based, hac, kmeans, mixtures, tree_deduction

_K_GRID = [10, 20, 50, 100, 200]
_TD_GRID = {"n_neighbors": [1, 2, 3, 5, 10, 20],
            "threshold": [0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9]}


#: kinds of method: what ``fit`` needs and how a fitted one labels new data
KINDS = ("unsupervised", "supervised", "hilander", "auto")
#: registered estimators that are not clustering methods: the encoders, the discovery
#: pipeline (raw items in, clusters out) and the ablations'
#: Hi-LANDER. :func:`names` and :func:`available` list them only when asked by kind; they are
#: here so that one registry knows every class a model file can hold.
OTHER_KINDS = ("encoder", "pipeline", "experimental")


@dataclass(frozen=True)
class MethodSpec:
    """One registered method: its class (or "module:Class", imported on first use), what it
    is, its tuning grid and the defaults its name implies."""

    name: str
    target: type | str
    description: str
    grid: dict[str, list] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    kind: str = "unsupervised"

    @property
    def cls(self) -> type:
        if isinstance(self.target, str):
            module, _, attr = self.target.partition(":")
            return getattr(importlib.import_module(module), attr)
        return self.target

    @property
    def class_name(self) -> str:
        """Name of the class, without importing it (what a model file records)."""
        if isinstance(self.target, str):
            return self.target.partition(":")[2]
        return self.target.__name__

    @property
    def learns(self) -> bool:
        """Whether ``fit`` needs labeled identities (meta-trained methods)."""
        return self.kind != "unsupervised"

    @property
    def uses_graph(self) -> bool:
        return bool(getattr(self.cls, "uses_graph", self.learns))

    def param_names(self) -> list[str]:
        sig = inspect.signature(self.cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def default_params(self) -> dict[str, Any]:
        return self.cls(**self.defaults).get_params()


# one registry, filled once at import: the only module-level mutable state here
_REGISTRY: dict[str, MethodSpec] = {}

#: earlier names -> today's (they warn, then work)
OLD_NAMES = {"gcn-v": "gcn_v", "gcnv": "gcn_v", "gcn-e": "gcn_e", "gcne": "gcn_e",
             "gcn-ve": "gcn_ve", "gcnve": "gcn_ve", "gcn-v+e": "gcn_ve", "gcn_v+e": "gcn_ve",
             "l-gcn": "lgcn", "l_gcn": "lgcn", "star-fc": "star_fc", "starfc": "star_fc",
             "hi-lander": "hilander", "hi_lander": "hilander"}

_THRESHOLDS = [0.3, 0.5, 0.6, 0.7, 0.8, 0.9]


def register(spec: MethodSpec) -> None:
    _REGISTRY[spec.name] = spec


for _spec in [
    MethodSpec("kmeans", kmeans.KMeans, "k-means, k-means++ seeding (Lloyd; scikit-learn)",
               {"n_clusters": _K_GRID}),
    MethodSpec("kmeans_random", kmeans.KMeans, "k-means, random seeding (Lloyd; scikit-learn)",
               {"n_clusters": _K_GRID}, {"init": "random"}),
    MethodSpec("minibatch_kmeans", kmeans.KMeans, "mini-batch k-means (Sculley 2010)",
               {"n_clusters": _K_GRID}, {"batch_size": 1024}),
    MethodSpec("spherical_kmeans", kmeans.SphericalKMeans,
               "spherical k-means, k-means++ seeding (cosine)", {"n_clusters": _K_GRID}),
    MethodSpec("spherical_kmeans_random", kmeans.SphericalKMeans,
               "spherical k-means, random seeding (cosine)", {"n_clusters": _K_GRID},
               {"init": "random"}),
    MethodSpec("dp_means", kmeans.DPMeans,
               "DP-means: k-means with a per-cluster penalty lam (Kulis & Jordan 2012)",
               {"lam": [0.4, 0.6, 0.8, 0.9, 1.0, 1.2, 1.4, 1.6],
                "init": ["global_centroid", "random"],
                "online": [False, True]}),
    MethodSpec("dp_vmf_means", kmeans.DPvMFMeans,
               "DP-vMF-means: DP-means on the sphere (Straub et al. 2015)",
               {"lam": [-0.9, -0.8, -0.7, -0.6, -0.55, -0.5, -0.45, -0.4, -0.3],
                "init": ["global_centroid", "random"], "online": [False, True]}),
    MethodSpec("gmm", mixtures.GaussianMixture, "Gaussian mixture by EM (scikit-learn)",
               {"n_clusters": _K_GRID, "covariance": ["diagonal"], "init": ["kmeans"]}),
    MethodSpec("vmf_mixture", mixtures.VMFMixture,
               "von Mises-Fisher mixture by EM, soft or hard (Banerjee et al. 2005)",
               {"n_clusters": _K_GRID, "posterior": ["soft", "hard"],
                "init": ["k-means++", "random_class"]}),
    MethodSpec("hac", hac.HAC,
               "agglomerative clustering: ward/complete/average/single, k-NN connectivity",
               {"n_clusters": _K_GRID, "linkage": ["ward", "average", "complete", "single"],
                "n_neighbors": [10, 40]}),
    MethodSpec("dbscan", density.DBSCAN, "DBSCAN (scikit-learn); noise = singletons",
               {"eps": [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
                "min_samples": [2, 5, 10]}),
    MethodSpec("hdbscan", density.HDBSCAN, "HDBSCAN (scikit-learn); noise = singletons",
               {"min_cluster_size": [2, 3, 5, 10, 20], "min_samples": [1, 2, 5, 10]}),
    MethodSpec("meanshift", density.MeanShift, "MeanShift, flat kernel, binned seeds",
               {"bandwidth": [0.4, 0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9],
                "min_bin_freq": [1, 5], "cluster_all": [True, False],
                "bin_seeding": [True, False]}),
    MethodSpec("spectral", graph_based.SpectralClustering,
               "spectral clustering on the k-NN affinity (Ng et al. 2001)",
               {"n_clusters": _K_GRID, "n_neighbors": [10, 20]}),
    MethodSpec("aro", graph_based.ApproximateRankOrder,
               "approximate rank-order clustering (Otto et al. 2018)",
               {"n_neighbors": [5, 10, 20, 30],
                "threshold": [0.5, 0.65, 0.8, 1.0, 1.2, 1.5, 2.0]}),
    MethodSpec("cdp", graph_based.CDP,
               "CDP unsupervised label propagation (Zhan et al. 2018)",
               {"n_neighbors": [2, 5, 10, 20],
                "threshold": [-0.2, 0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8],
                "step": [0.05], "max_size": [50, 300]}),
    MethodSpec("finch", graph_based.FINCH,
               "FINCH first-neighbour hierarchy; pick a level (Sarfraz et al. 2019)",
               {"level": [0, 1, 2, 3, 4, 5]}),
    MethodSpec("graclus", graph_based.Graclus,
               "Graclus multilevel normalised cut (Dhillon et al. 2007)",
               {"n_clusters": _K_GRID, "n_neighbors": [10, 20]}),
    MethodSpec("infomap", community.Infomap,
               "Infomap (map equation) on the pruned k-NN graph (FaceMap; Yu et al. 2022)",
               {"n_neighbors": [5, 10, 20], "min_similarity": [0.0, 0.4, 0.5, 0.6, 0.7, 0.8],
                "jaccard": [0.0, 0.5]}),
    MethodSpec("leiden", community.Leiden,
               "Leiden community detection, modularity with resolution (Traag et al. 2019)",
               {"n_neighbors": [10, 20], "resolution": [1.0, 2.0, 5.0, 10.0, 20.0, 50.0],
                "min_similarity": [0.0, 0.5, 0.7]}),
    MethodSpec("chinese_whispers", community.ChineseWhispers,
               "Chinese whispers weighted label propagation (Biemann 2006)",
               {"n_neighbors": [5, 10, 20],
                "min_similarity": [0.0, 0.4, 0.5, 0.6, 0.7, 0.8]}),
    MethodSpec("tree_deduction", tree_deduction.TreeDeduction,
               "tree deduction, k-NN density confidence (study App. D)", dict(_TD_GRID)),
    MethodSpec("tree_deduction_l2", tree_deduction.TreeDeductionL2,
               "tree deduction with embedding l2-norm confidence (study App. D)",
               dict(_TD_GRID)),
    MethodSpec("gcn_v", "hilander.supervised.gcn_v:GCNV",
               "GCN-V confidence estimation + tree deduction (Yang et al. 2020)",
               {"tau": _THRESHOLDS}, kind="supervised"),
    MethodSpec("gcn_e", "hilander.supervised.gcn_e:GCNE",
               "l2-norm (or density) confidence + GCN-E links + tree deduction (study App. D)",
               {"tau": _THRESHOLDS}, kind="supervised"),
    MethodSpec("gcn_ve", "hilander.supervised.gcn_e:GCNVE",
               "GCN-V confidences + GCN-E links + tree deduction (Yang et al. 2020)",
               {"tau": _THRESHOLDS}, kind="supervised"),
    MethodSpec("lgcn", "hilander.supervised.lgcn:LGCN",
               "L-GCN link prediction on instance-pivot sub-graphs + propagation (Wang 2019)",
               {"threshold": _THRESHOLDS}, kind="supervised"),
    MethodSpec("star_fc", "hilander.supervised.star_fc:STARFC",
               "STAR-FC structure-preserving sampling + parsing and refinement (Shen 2021)",
               {"prune": _THRESHOLDS}, kind="supervised"),
    MethodSpec("hilander", "hilander.lander.estimator:HiLander",
               "Hi-LANDER: hierarchical GNN linkage, meta-trained (Xing et al. 2021)",
               kind="hilander"),
    MethodSpec("lander", "hilander.lander.estimator:HiLander",
               "one-level LANDER (Hi-LANDER with max_levels=1)", defaults={"max_levels": 1},
               kind="hilander"),
    MethodSpec("auto", "hilander.auto:AutoCluster",
               "the best method for a domain, chosen on its labeled identities", kind="auto"),
    MethodSpec("image_backbone", "hilander.embed.backbone:ImageBackbone",
               "conv-net image embedder, cosine-softmax cross-entropy (study App. E.1)",
               kind="encoder"),
    MethodSpec("text_encoder", "hilander.embed.text_encoder:TextEncoder",
               "all-MiniLM-L6-v2 fine-tuned with a cosine-softmax head", kind="encoder"),
    MethodSpec("discover", "hilander.discover.discoverer:Discoverer",
               "an encoder and a clusterer learnt together from labeled raw items "
               "(hilander discover)", kind="pipeline"),
    MethodSpec("experimental_hilander", "hilander.study.ablation:ExperimentalHiLander",
               "Hi-LANDER with the ablations' recipe options (study only)",
               kind="experimental"),
]:
    register(_spec)


def canonical_name(name: str) -> str:
    """Today's name of method ``name`` (earlier names warn); unknown names -> InputError."""
    if not isinstance(name, str):
        raise InputError(f"method name must be a string, got {name!r}")
    key = name.strip().lower()
    if key in OLD_NAMES:
        warnings.warn(f"method name {name!r} is deprecated; use {OLD_NAMES[key]!r}",
                      FutureWarning, stacklevel=3)
        key = OLD_NAMES[key]
    if key not in _REGISTRY:
        raise InputError(f"unknown method {name!r}; choose one of {names()}")
    return key


def get_spec(name: str) -> MethodSpec:
    return _REGISTRY[canonical_name(name)]


def names(kind: str | None = None) -> list[str]:
    """Every clustering method's name (of one ``kind`` of :data:`KINDS` or
    :data:`OTHER_KINDS` when given), sorted."""
    return sorted(n for n, spec in _REGISTRY.items()
                  if spec.kind == kind or (kind is None and spec.kind in KINDS))


def model_class(class_name: str) -> type:
    """The registered class called ``class_name`` (what a model file names), imported on
    first use; an unknown name -> InputError."""
    for spec in _REGISTRY.values():
        if spec.class_name == class_name:
            return spec.cls
    raise InputError(f"no registered model class {class_name!r}")


def make(name: str, **params):
    """A new estimator for method ``name``; unknown names, parameters or values -> InputError."""
    spec = get_spec(name)
    valid = spec.param_names()
    params = {**spec.defaults, **params}
    from ..base import ALIASES

    renamed = {**ALIASES, **getattr(spec.cls, "_renamed", {})}
    # keywords of earlier versions that the class still takes (with a FutureWarning)
    legacy = set(getattr(spec.cls, "_legacy_keywords", ()))
    unknown = sorted(k for k in params
                     if k not in valid and k not in legacy and renamed.get(k) not in valid)
    if unknown:
        raise InputError(
            f"unknown parameter(s) {unknown} for method {spec.name!r}; valid: {sorted(valid)}"
        )
    est = spec.cls(**params)
    est._check_params()  # fail at construction time too, where the CLI can report it
    return est


def available(kind: str | None = None) -> dict[str, dict[str, Any]]:
    """name -> {"description", "kind", "params" (defaults), "uses_graph", "grid"}."""
    return {
        name: {
            "description": spec.description,
            "kind": spec.kind,
            "params": spec.default_params(),
            "uses_graph": spec.uses_graph,
            "grid": {k: list(v) for k, v in spec.grid.items()},
        }
        for name, spec in sorted(_REGISTRY.items())
        if spec.kind == kind or (kind is None and spec.kind in KINDS)
    }
