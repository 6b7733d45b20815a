"""The empirical study beside the library: benchmarks, reports, the study's datasets.

Everything here serves the study of the two papers (Hi-LANDER, ICCV 2021, and the empirical
study of clustering methods for open-set embeddings), not the library's users: the
benchmark runner behind ``hilander bench`` (:mod:`.bench`), its Markdown/plot reports
(:mod:`.report`), the open-set verification and identification metrics
(:mod:`.metrics_openset`), the Omniglot and CLINC150 loaders and their cached embeddings
(:mod:`.datasets`, :mod:`.embeddings`) and the ablations' Hi-LANDER (:mod:`.ablation`).
Its plotting and table dependencies come with ``pip install 'hilander[study]'``; the core
install (``import hilander``, ``hilander cluster``) never loads them.
"""

__all__: list[str] = []
