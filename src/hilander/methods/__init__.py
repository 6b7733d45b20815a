"""Every unsupervised clustering baseline of the two papers behind one API.

>>> from hilander import methods
>>> est = methods.make("hac", linkage="ward", n_clusters=50)
>>> labels = est.fit_predict(X)                    # doctest: +SKIP
>>> sorted(methods.available())[:3]
['aro', 'auto', 'cdp']

Estimators are scikit-learn shaped (``fit`` returns self, ``labels_``, ``fit_predict``), all
take ``l2_normalize`` (on by default) and those using neighbours accept a prebuilt
:class:`hilander.graph.KNNGraph` as ``fit(X, graph=...)``.
"""

from ._baseline import MEMORY_BUDGET_BYTES, BaseClusterer
from .community import ChineseWhispers, Infomap, Leiden
from .density import DBSCAN, HDBSCAN, MeanShift
from .graph_based import CDP, FINCH, ApproximateRankOrder, Graclus, SpectralClustering
from .hac import HAC
from .kmeans import DPMeans, DPvMFMeans, KMeans, SphericalKMeans
from .mixtures import GaussianMixture, VMFMixture
from .registry import available, canonical_name, get_spec, make, names
from .tree_deduction import TreeDeduction, TreeDeductionL2

__all__ = [
    "CDP", "DBSCAN", "FINCH", "HAC", "HDBSCAN", "MEMORY_BUDGET_BYTES",
    "ApproximateRankOrder", "BaseClusterer", "ChineseWhispers", "DPMeans", "DPvMFMeans",
    "GaussianMixture", "Graclus", "Infomap", "KMeans", "Leiden", "MeanShift",
    "SphericalKMeans", "SpectralClustering", "TreeDeduction", "TreeDeductionL2", "VMFMixture",
    "available", "canonical_name", "get_spec", "make", "names",
]
