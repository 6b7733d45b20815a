import numpy as np

from hilander.graph import components
from hilander.lander import component_peaks, count_edges, select_edges


def test_select_edges_follows_eqs_5_and_6():
    d = np.array([0.1, 0.5, 0.3, 0.3, 0.9, 0.0])
    nbr = np.array([[1, 2], [0, 2], [3, 1], [2, 4], [3, 2], [4, 0]])
    p = np.array([[.95, .2], [.9, .1], [.95, .1], [.95, .97], [.5, .99], [.99, .98]])
    src, dst = select_edges(nbr, p, d, 0.9)
    # 0->1 (denser, p ok); 1 peak (neighbours sparser); 2->3 (equal density allowed);
    # 3->4 (higher p than 3->2); 4 peak; 5->4 (best p among denser)
    assert dict(zip(src.tolist(), dst.tolist())) == {0: 1, 2: 3, 3: 4, 5: 4}


def test_threshold_and_padding():
    nbr = np.array([[1, -1], [0, -1]])
    p = np.array([[0.5, 0.0], [0.5, 0.0]])
    d = np.array([0.0, 1.0])
    assert len(select_edges(nbr, p, d, 0.6)[0]) == 0
    src, dst = select_edges(nbr, p, d, 0.5)
    assert src.tolist() == [0] and dst.tolist() == [1]


def test_components_peaks_and_edge_count():
    n, labels = components(5, np.array([0, 2, 3]), np.array([1, 3, 2]))
    assert n == 3 and labels[0] == labels[1] and labels[2] == labels[3] != labels[4]
    assert count_edges(np.array([0, 2, 3]), np.array([1, 3, 2])) == 2
    peaks = component_peaks(labels, n, np.array([0.2, 0.1, 0.5, 0.5, 0.0]))
    assert peaks[labels[0]] == 0 and peaks[labels[2]] == 2 and peaks[labels[4]] == 4
