"""scikit-learn's estimator checks over every registered method, and the API contract of the
meta-trained clusterers (HiLander and the supervised GNNs)."""

import numpy as np
import pytest
from sklearn.base import clone, is_clusterer
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import parametrize_with_checks

from hilander import HiLander, InputError, methods, supervised
from hilander.lander import DecodingSettings, SelectionSettings, TrainingSettings
from hilander.methods import registry

# one estimator per unsupervised name (several names share a class with other defaults); the
# meta-trained ones need y in fit, which scikit-learn's checks do not pass, so they have
# their own contract tests below
ESTIMATORS = [registry.make(name) for name in registry.names("unsupervised")]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_every_method_is_a_clusterer_and_clones():
    for name in registry.names():
        est = methods.make(name)
        assert is_clusterer(est), name
        twin = clone(est)
        assert twin.get_params() == est.get_params() and twin is not est


@pytest.mark.parametrize("name", registry.names("supervised") + ["hilander", "lander", "auto"])
def test_meta_trained_clusterers_declare_that_they_need_y(name):
    est = registry.make(name)
    assert is_clusterer(est)
    assert get_tags(est).target_tags.required  # the checks skip fit(X) without y
    twin = clone(est)
    assert twin.get_params() == est.get_params() and type(twin) is type(est)
    # scikit-learn's own exception, which is also hilander's one-line InputError
    with pytest.raises(NotFittedError, match="not fitted"):
        est.predict(np.zeros((20, 4), np.float32))
    with pytest.raises(InputError):
        est.predict(np.zeros((20, 4), np.float32))


def test_scikit_learn_vocabulary_with_deprecated_aliases():
    with pytest.warns(FutureWarning, match="use n_neighbors"):
        est = HiLander(k=5)
    assert est.n_neighbors == 5 and "k" not in est.get_params()
    with pytest.warns(FutureWarning, match="use random_state"):
        est.set_params(seed=3)
    assert est.random_state == 3
    with pytest.warns(FutureWarning, match="use verbose"):
        assert supervised.make("gcn_v", progress=True).verbose is True
    with pytest.warns(FutureWarning, match="use random_state"):
        assert methods.make("kmeans", seed=4).random_state == 4
    with pytest.warns(FutureWarning, match="use n_neighbors_v"):
        assert registry.make("gcn_ve", k_v=7).n_neighbors_v == 7
    with pytest.raises(InputError, match="give 'n_neighbors' only"):
        HiLander(k=5, n_neighbors=6)
    with pytest.raises(TypeError, match="unexpected keyword argument 'kk'"):
        HiLander(kk=5)
    with pytest.warns(FutureWarning, match="'gcn-v' is deprecated; use 'gcn_v'"):
        assert type(methods.make("gcn-v")).__name__ == "GCNV"


def test_hilander_set_params_leaves_fitted_tau_alone(open_set, trained):
    est = clone(trained)
    assert not hasattr(est, "model_")
    model = clone(trained)
    model.model_, model.n_features_in_ = trained.model_, 64
    model.settings_ = trained.settings_.replace(tau=0.7)
    model.set_params(decoding={"tau": 0.2})
    assert model.decoding == {"tau": 0.2} and model.settings_.tau == 0.7
    # defaults stay out of the repr
    assert "decoding={'tau': 0.2}" in repr(model) and "n_neighbors=" not in repr(model)
    # an explicit threshold for one run; lower p_tau links more, so fewer clusters
    lo = model.cluster(open_set.X_test, tau=0.3).n_clusters
    hi = model.cluster(open_set.X_test).n_clusters
    assert lo < hi
    with pytest.raises(InputError, match="tau must be <= 1"):
        model.cluster(open_set.X_test, tau=2.0)


def test_hilander_settings_groups_and_the_keywords_they_replace():
    new = HiLander(n_neighbors=5, decoding=DecodingSettings(0.5, n_neighbors=5),
                   training=TrainingSettings(epochs=3, hidden=16),
                   selection=SelectionSettings(cv=2, tau_grid=[0.3, 0.6]))
    assert len(new.get_params()) <= 16
    assert new.selection.tau_grid == (0.3, 0.6)  # a grid is kept as a tuple
    twin = clone(new)
    assert twin.get_params() == new.get_params() and twin.training is not None
    # the flat keywords of earlier versions still work, each moved into its group
    with pytest.warns(FutureWarning, match="epochs -> training.epochs"):
        old = HiLander(n_neighbors=5, tau=0.5, epochs=3, hidden=16, cv=2, tau_grid=[0.3, 0.6])
    assert old.training == new.training and old.selection == new.selection
    assert old.decoding == {"tau": 0.5}  # the other fields are the model's, as before
    assert old._decoding() == new.decoding
    assert clone(old).get_params() == old.get_params()
    with pytest.warns(FutureWarning, match="tau -> decoding.tau"):
        assert HiLander(10, 0.7).decoding == {"tau": 0.7}  # the old positional tau
    with pytest.warns(FutureWarning, match="decoding=DecodingSettings"):
        assert HiLander(tau=0.4, decoding="similarity").decoding == \
            {"tau": 0.4, "decoding": "similarity"}
    with pytest.warns(FutureWarning):  # a rule without a threshold had no effect: auto stays
        assert HiLander(decoding="similarity").decoding == "auto"
    with pytest.warns(FutureWarning):
        auto = HiLander(tau="auto", tau_upper=0.3, early_stopping=False, patience=4)
    assert auto.decoding == "auto" and auto.selection.patience == 4
    assert auto.selection.early_stopping is False
    with pytest.warns(FutureWarning):
        old.set_params(epochs=7, tau_upper=0.3)
    assert old.training.epochs == 7 and old.training.hidden == 16
    assert old.decoding == {"tau": 0.5, "tau_upper": 0.3}
    with pytest.warns(FutureWarning):
        assert registry.make("hilander", epochs=4).training.epochs == 4
    with pytest.warns(FutureWarning, match="dropout is removed"):
        HiLander(dropout=0.0, weight_decay=1e-5)
    with pytest.raises(InputError, match="dropout is no longer an option"), \
            pytest.warns(FutureWarning):
        HiLander(dropout=0.5)


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
    model = supervised.make("gcn_v", epochs=3)
    labels = model.fit_predict(X, y)
    assert model.labels_ is labels and labels.shape == (600,)
    other = model.predict(open_set.X_test)
    assert model.labels_ is labels and other.shape == open_set.y_test.shape
    assert model.n_features_in_ == 64


def test_device_choices(open_set):
    import torch

    X, y = open_set.X_train[:300], open_set.y_train[:300]
    tiny = TrainingSettings(epochs=2, hidden=16)
    m = HiLander(n_neighbors=5, training=tiny, device="cpu").fit(X, y)
    assert next(m.model_.parameters()).device.type == "cpu"
    auto = HiLander(n_neighbors=5, training=tiny, device="auto").fit(X, y)
    want = "cuda" if torch.cuda.is_available() else "cpu"
    assert next(auto.model_.parameters()).device.type == want
    if not torch.cuda.is_available():
        # an explicit request for a GPU that is not there is an error, never a silent CPU run
        with pytest.raises(InputError, match="no CUDA device"):
            HiLander(device="cuda").fit(X, y)


# tiny settings: these tests check where the networks run, not what they learn
_TINY_GNN = {
    "gcn_v": dict(epochs=2, hidden=8),
    "gcn_e": dict(epochs=2, hidden=8),
    "gcn_ve": dict(epochs_v=2, hidden_v=8, epochs=2, hidden=8),
    "lgcn": dict(epochs=2, hidden=8),
    "star_fc": dict(epochs=2, hidden=8),
}


def _networks(model) -> list:
    import torch

    return [v for v in vars(model).values() if isinstance(v, torch.nn.Module)]


@pytest.mark.parametrize("name", supervised.available())
def test_supervised_device_choices(name, open_set, tmp_path):
    import torch

    X, y = open_set.X_train[:240], open_set.y_train[:240]
    cls = registry.get_spec(name).cls
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
