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


def test_lone_points_attach_to_their_best_linked_clusters_or_become_noise():
    from hilander.lander.decoding import place_leftovers

    labels = np.array([0, 0, 0, 1, 1, 2, 3])
    # level-1 lists: point 5 (alone) links best to point 6, which is alone too, so it joins
    # the cluster of its next best neighbour 4 (p 0.5 > 0.3 for point 0); point 6's only
    # neighbour is alone: it stays alone
    nbr = np.array([[1, 2, -1], [0, 2, -1], [0, 1, -1], [4, -1, -1], [3, -1, -1],
                    [0, 6, 4], [5, -1, -1]])
    p = np.array([[.9, .9, 0], [.9, .9, 0], [.9, .9, 0], [.8, 0, 0], [.8, 0, 0],
                  [.3, .95, .5], [.95, 0, 0]])
    assert place_leftovers(labels, nbr, p, "keep") is labels
    assert place_leftovers(labels, nbr, p, "attach").tolist() == [0, 0, 0, 1, 1, 1, 3]
    assert place_leftovers(labels, nbr, p, "noise").tolist() == [0, 0, 0, 1, 1, -1, -1]


def test_attached_leftovers_end_a_hierarchy_with_fewer_clusters():
    from hilander.datasets import make_open_set
    from hilander.lander import DecodingSettings, LanderNet, run_hierarchy

    data = make_open_set(n_train_classes=4, n_test_classes=12, seed=0)
    torch = __import__("torch")
    torch.manual_seed(0)
    net = LanderNet(data.X_test.shape[1], 16, 1)
    X = data.X_test / np.linalg.norm(data.X_test, axis=1, keepdims=True)
    keep = run_hierarchy(net, X, DecodingSettings(tau=0.9, n_neighbors=5))
    attach = run_hierarchy(net, X, DecodingSettings(tau=0.9, n_neighbors=5, leftovers="attach"))
    alone_before = int((np.bincount(keep.labels)[keep.labels] == 1).sum())
    alone_after = int((np.bincount(attach.labels)[attach.labels] == 1).sum())
    assert alone_before > 0 and alone_after < alone_before
    # only lone points moved, each into an existing cluster of two or more
    moved = keep.labels != attach.labels
    assert moved.any()
    assert (np.bincount(keep.labels)[keep.labels][moved] == 1).all()
