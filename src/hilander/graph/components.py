"""Connected components of an edge list: the one helper every method decodes with."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components


def components(n: int, src: np.ndarray, dst: np.ndarray) -> tuple[int, np.ndarray]:
    """``(count, labels)`` of the undirected graph on ``n`` nodes with edges ``src``-``dst``."""
    src = np.asarray(src, dtype=np.int64)
    A = sp.csr_matrix((np.ones(src.size, dtype=np.int8), (src, np.asarray(dst))), shape=(n, n))
    n_comp, labels = connected_components(A, directed=False)
    return int(n_comp), labels.astype(np.int64)
