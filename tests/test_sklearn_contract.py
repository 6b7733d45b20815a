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
    for name in ("model_", "tau_upper_", "max_levels_", "decoding_"):
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
