"""Fine-tuning MiniLM's top layers only, on cached outputs of its frozen lower layers.

A training step through all six layers costs a forward and a backward pass over each. With
the embeddings and the lower ``n`` layers frozen, their output for a sentence never changes:
it is computed once (no gradient, no dropout) and each step runs only the upper layers on it,
forward and backward. The held-out evaluations reuse the same cache. Batches hold sentences of
similar length (:func:`length_batches`), so little time goes into padding.

The model is cut by swapping modules of the Hugging Face ``BertModel`` for one call (its
embedding module by a pass-through, its layer list by the upper layers), so the model's own
``forward`` builds the attention mask the way its version does; ``tests/test_encoder_speed.py``
checks that the two halves give the full model's sentence embeddings.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

#: cached states above this many bytes in float32 are kept in float16 (cosines within 1e-3)
CACHE_FLOAT32_BYTES = 1 << 30


class _PassThrough(nn.Module):
    """Stands in for the embedding module: the cached states are the layer input already."""

    def forward(self, inputs_embeds=None, **_) -> torch.Tensor:
        return inputs_embeds


def bert_of(model) -> nn.Module:
    """The Hugging Face ``BertModel`` inside a sentence-transformers MiniLM."""
    return model[0].auto_model


def n_layers(model) -> int:
    return len(bert_of(model).encoder.layer)


@contextmanager
def _cut(model, layers: slice, pass_through: bool) -> Iterator[nn.Module]:
    bert = bert_of(model)
    full_layers, full_emb = bert.encoder.layer, bert.embeddings
    bert.encoder.layer = nn.ModuleList(list(full_layers)[layers])
    if pass_through:
        bert.embeddings = _PassThrough()
    try:
        yield bert
    finally:
        bert.encoder.layer, bert.embeddings = full_layers, full_emb


def freeze_lower(model, n: int) -> None:
    """Stop gradients into the embeddings and the lower ``n`` layers (``n > 0``)."""
    bert = bert_of(model)
    for p in bert.embeddings.parameters():
        p.requires_grad_(False)
    for layer in list(bert.encoder.layer)[:n]:
        for p in layer.parameters():
            p.requires_grad_(False)


def tokenize(model, texts: Sequence[str]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Token ids and token-type ids of each text, unpadded, truncated to the model's max."""
    prep = getattr(model, "preprocess", None) or model.tokenize
    ids, types = [], []
    for start in range(0, len(texts), 512):
        feats = prep(list(texts[start:start + 512]))
        mask = feats["attention_mask"].bool()
        tt = feats.get("token_type_ids")
        for r in range(mask.shape[0]):
            ids.append(feats["input_ids"][r][mask[r]])
            types.append(tt[r][mask[r]] if tt is not None else torch.zeros_like(ids[-1]))
    return ids, types


def _pad(rows: list[torch.Tensor], value=0) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of shape (L_i, ...) padded to (B, max L, ...), and the (B, max L) mask."""
    lengths = torch.tensor([r.shape[0] for r in rows])
    out = torch.full((len(rows), int(lengths.max()), *rows[0].shape[1:]), value,
                     dtype=rows[0].dtype)
    for i, r in enumerate(rows):
        out[i, : r.shape[0]] = r
    mask = torch.arange(out.shape[1])[None, :] < lengths[:, None]
    return out, mask.long()


@torch.no_grad()
def lower_states(model, texts: Sequence[str], n: int, device: torch.device,
                 batch_size: int = 128) -> list[torch.Tensor]:
    """Output of the embeddings and the lower ``n`` layers for each text: (L_i, 384) each, on
    the CPU, in eval mode (no dropout), computed in batches of similar length."""
    ids, types = tokenize(model, texts)
    lengths = np.array([t.shape[0] for t in ids])
    order = np.argsort(lengths, kind="stable")
    total = int(lengths.sum()) * bert_of(model).config.hidden_size * 4
    dtype = torch.float32 if total <= CACHE_FLOAT32_BYTES else torch.float16
    out: list[torch.Tensor | None] = [None] * len(ids)
    was_training = model.training
    model.eval()
    try:
        with _cut(model, slice(0, n), pass_through=False) as bert:
            for start in range(0, len(order), batch_size):
                rows = order[start:start + batch_size]
                input_ids, mask = _pad([ids[i] for i in rows])
                token_types, _ = _pad([types[i] for i in rows])
                h = bert(input_ids=input_ids.to(device), attention_mask=mask.to(device),
                         token_type_ids=token_types.to(device)).last_hidden_state.cpu()
                for j, i in enumerate(rows):
                    out[i] = h[j, : int(lengths[i])].to(dtype).clone()
    finally:
        model.train(was_training)
    return out  # type: ignore[return-value]


def upper_embed(model, states: list[torch.Tensor], n: int,
                device: torch.device) -> torch.Tensor:
    """Sentence embeddings (mean-pooled, unnormalised) from cached lower states, through the
    layers above ``n``; differentiable in their weights."""
    h, mask = _pad([s.float() for s in states])
    h, mask = h.to(device), mask.to(device)
    with _cut(model, slice(n, None), pass_through=True) as bert:
        tokens = bert(inputs_embeds=h, attention_mask=mask).last_hidden_state
    m = mask.unsqueeze(-1).to(tokens.dtype)
    return (tokens * m).sum(1) / m.sum(1).clamp(min=1e-9)


@torch.no_grad()
def embed_cached(model, states: list[torch.Tensor], n: int, device: torch.device,
                 batch_size: int = 256) -> np.ndarray:
    """:func:`upper_embed` in eval mode over every cached text, batched by length."""
    lengths = np.array([s.shape[0] for s in states])
    order = np.argsort(lengths, kind="stable")
    out = np.empty((len(states), bert_of(model).config.hidden_size), dtype=np.float32)
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            out[rows] = upper_embed(model, [states[i] for i in rows], n, device).cpu().numpy()
    finally:
        model.train(was_training)
    return out


def length_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator,
                   pool: int = 64) -> list[np.ndarray]:
    """One epoch of batches of similar length: a random permutation is cut into pools of
    ``pool`` batches, each pool sorted by length and cut into batches, and the batches are
    shuffled. Every batch is full (the ragged rest is dropped, as in a plain epoch)."""
    n = lengths.size
    n_batches = max(1, n // batch_size)
    perm = rng.permutation(n)[: n_batches * batch_size]
    batches: list[np.ndarray] = []
    step = batch_size * pool
    for start in range(0, perm.size, step):
        chunk = perm[start:start + step]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i:i + batch_size] for i in range(0, chunk.size, batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]
