"""The empirical study beside the library: benchmarks, reports, the study's datasets.

Everything here serves the study of the two papers (Hi-LANDER, ICCV 2021, and the empirical
study of clustering methods for open-set embeddings), not the library's users:

* :mod:`.bench`: the benchmark runner behind ``hilander bench``, and :mod:`.report`, its
  Markdown report, plots and JSON record;
* :mod:`.metrics_openset`: the open-set verification and identification metrics;
* :mod:`.omniglot`, :mod:`.clinc150` and :mod:`.class_disjoint`: the two datasets' loaders and
  their four class-disjoint splits; :mod:`.embeddings`: their cached embeddings (``hilander
  embed omniglot|clinc150``);
* :mod:`.ablation`: Hi-LANDER with the options the ablations measured and left out.

Its plotting and image dependencies come with ``pip install 'hilander[study]'``; the core
install (``import hilander``, ``hilander cluster``) never loads them. The loaders and splits
are imported here; the rest on first use.
"""

from .class_disjoint import SPLIT_NAMES, ClassDisjointSplit, make_splits
from .clinc150 import ClincData, load_clinc150
from .omniglot import OmniglotData, load_omniglot

__all__ = ["SPLIT_NAMES", "ClassDisjointSplit", "ClincData", "OmniglotData", "load_clinc150",
           "load_omniglot", "make_splits"]
