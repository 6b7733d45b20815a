import numpy as np
import pytest
import torch

from hilander import HiLander
from hilander.datasets import make_open_set
from hilander.lander import TrainingSettings

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def open_set():
    """Small class-disjoint set: 80 meta-training identities, 25 long-tailed test ones."""
    return make_open_set(80, 25, max_test_size=400, seed=3)


@pytest.fixture(scope="session")
def trained(open_set):
    return HiLander(training=TrainingSettings(epochs=20), random_state=0).fit(
        open_set.X_train, open_set.y_train)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
