"""scikit-learn's estimator checks over every registered method, and the API contract of the
meta-trained clusterers (HiLander and the supervised GNNs)."""

import numpy as np
import pytest
from sklearn.base import clone, is_clusterer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import parametrize_with_checks

from hilander import HiLander, InputError, methods, supervised
from hilander.methods import registry

# one estimator per registered name (several names share a class with other defaults)
ESTIMATORS = [registry.make(name) for name in registry.names()]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_every_method_is_a_clusterer_and_clones():
    for name in registry.names():
        est = methods.make(name)
        assert is_clusterer(est), name
        twin = clone(est)
        assert twin.get_params() == est.get_params() and twin is not est


@pytest.mark.parametrize("est", [HiLander(k=5), supervised.make("gcn-v")],
                         ids=["hilander", "gcn-v"])
def test_meta_trained_clusterers_declare_that_they_need_y(est):
    assert is_clusterer(est)
    assert get_tags(est).target_tags.required  # the checks skip fit(X) without y
    assert clone(est).get_params() == est.get_params()
    with pytest.raises(InputError, match="not (fitted|trained)"):
        est.predict(np.zeros((20, 4), np.float32))


def test_hilander_set_params_leaves_fitted_tau_alone(open_set, trained):
    est = clone(trained)
    assert not hasattr(est, "model_")
    model = HiLander(**trained.get_params())
    for name in ("model_", "tau_upper_", "max_levels_", "decoding_", "k_", "aggregation_"):
        setattr(model, name, getattr(trained, name))
    model.tau_, model.n_features_in_ = 0.7, 64
    model.set_params(tau=0.2)
    assert model.tau == 0.2 and model.tau_ == 0.7
    assert "tau=0.2" in repr(model) and "k=" not in repr(model)  # defaults stay out of repr
    # an explicit threshold for one run; lower p_tau links more, so fewer clusters
    lo = model.cluster(open_set.X_test, tau=0.3).n_clusters
    hi = model.cluster(open_set.X_test).n_clusters
    assert lo < hi
    with pytest.raises(InputError, match="tau must be <= 1"):
        model.cluster(open_set.X_test, tau=2.0)


def test_pipeline_fit_predict_with_a_method():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 8)) * 10
    X = np.concatenate([c + rng.normal(size=(30, 8)) for c in centres])
    pipe = make_pipeline(StandardScaler(), methods.make("hac", n_clusters=3, linkage="average",
                                                        metric="cosine"))
    labels = pipe.fit_predict(X)
    truth = np.repeat(np.arange(3), 30)
    # a perfect partition up to renaming: every true group maps to one predicted cluster
    assert len(set(zip(truth, labels))) == 3 and len(set(labels)) == 3
    assert pipe[-1].n_features_in_ == 8


def test_gcnv_fit_predict_sets_labels_and_predict_does_not(open_set):
    X, y = open_set.X_train[:600], open_set.y_train[:600]
    model = supervised.make("gcn-v", epochs=3)
    labels = model.fit_predict(X, y)
    assert model.labels_ is labels and labels.shape == (600,)
    other = model.predict(open_set.X_test)
    assert model.labels_ is labels and other.shape == open_set.y_test.shape
    assert model.n_features_in_ == 64


def test_device_choices(open_set):
    import torch

    X, y = open_set.X_train[:300], open_set.y_train[:300]
    m = HiLander(k=5, epochs=2, hidden=16, device="cpu").fit(X, y)
    assert next(m.model_.parameters()).device.type == "cpu"
    auto = HiLander(k=5, epochs=2, hidden=16, device="auto").fit(X, y)
    want = "cuda" if torch.cuda.is_available() else "cpu"
    assert next(auto.model_.parameters()).device.type == want
    if not torch.cuda.is_available():
        # an explicit request for a GPU that is not there is an error, never a silent CPU run
        with pytest.raises(InputError, match="no CUDA device"):
            HiLander(device="cuda").fit(X, y)


# tiny settings: these tests check where the networks run, not what they learn
_TINY_GNN = {
    "gcn-v": dict(epochs=2, hidden=8),
    "gcn-e": dict(epochs=2, hidden=8),
    "gcn-ve": dict(epochs_v=2, hidden_v=8, epochs=2, hidden=8),
    "lgcn": dict(epochs=2, hidden=8),
    "star-fc": dict(epochs=2, hidden=8),
}


def _networks(model) -> list:
    import torch

    return [v for v in vars(model).values() if isinstance(v, torch.nn.Module)]


@pytest.mark.parametrize("name", supervised.available())
def test_supervised_device_choices(name, open_set, tmp_path):
    import torch

    X, y = open_set.X_train[:240], open_set.y_train[:240]
    cls = supervised.METHODS[name]
    assert "device" in cls._parameter_constraints
    default = cls(**_TINY_GNN[name]).fit(X, y)
    assert default.device == "auto" and default.get_params()["device"] == "auto"
    cpu = cls(**_TINY_GNN[name], device="cpu").fit(X, y)
    assert _networks(cpu) and all(
        p.device.type == "cpu" for net in _networks(cpu) for p in net.parameters())
    auto_on = "cuda" if torch.cuda.is_available() else "cpu"
    assert all(next(net.parameters()).device.type == auto_on for net in _networks(default))
    if not torch.cuda.is_available():
        # "auto" is the CPU here: the same labels, bit for bit
        np.testing.assert_array_equal(cpu.predict(X), default.predict(X))
    # saved weights are CPU tensors whatever the device; loading puts them on the model's
    default.save(tmp_path / "m.hlm")
    payload = torch.load(tmp_path / "m.hlm", weights_only=True)
    assert all(t.device.type == "cpu" for net in payload["state"].values()
               if isinstance(net, dict) for t in net.values())
    again = cls.load(tmp_path / "m.hlm")
    assert all(next(net.parameters()).device.type == auto_on for net in _networks(again))
    np.testing.assert_array_equal(again.predict(X), default.predict(X))
    if not torch.cuda.is_available():
        # an explicit GPU request without a GPU is an error at fit, never a silent CPU run
        with pytest.raises(InputError, match="device='cuda' but torch sees no CUDA"):
            cls(**_TINY_GNN[name], device="cuda").fit(X, y)
    with pytest.raises(InputError, match="device must be"):
        cls(device="tpu").fit(X, y)
