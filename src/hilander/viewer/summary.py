"""Everything a page shows, as one JSON-ready dict: cards, counts, metrics and the map.

The page's script only draws this dict; every number on the page is computed here, where the
tests can check it.
"""

from __future__ import annotations

import numpy as np

from .._validation import InputError, check_features, check_int, check_labels
from ._labels import cluster_codes
from .items import Items

#: characters of a text shown on a card, and in the map's hover box
CARD_CHARS = 300
HOVER_CHARS = 120
#: examples listed of the noise and of the singletons
EXAMPLES = 24
#: the metrics shown with true labels, in order, with their names on the page
METRICS = (("avg_f", "avg F (Fp, Fb)"), ("pairwise_f", "pairwise F"),
           ("pairwise_precision", "pairwise precision"), ("pairwise_recall", "pairwise recall"),
           ("bcubed_f", "BCubed F"), ("bcubed_precision", "BCubed precision"),
           ("bcubed_recall", "BCubed recall"), ("nmi", "NMI"), ("ami", "AMI"), ("ari", "ARI"),
           ("n_clusters", "clusters (noise as singletons)"), ("n_classes", "true classes"))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "\u2026"


def _name(value) -> str:
    return str(value.item() if hasattr(value, "item") else value)


def purity(true_labels, codes: np.ndarray, n_clusters: int):
    """Per cluster code: ``(majority true label, its count, labeled members)``.

    Items whose true label is integer ``-1`` (unlabeled) are left out; a cluster without a
    labeled member has majority None. Ties go to the smaller true label.
    """
    import scipy.sparse as sp

    tnames, tcodes = cluster_codes(true_labels, codes.size)
    both = (codes >= 0) & (tcodes >= 0)
    # sparse: clusters x classes is 8,000 x 5,000 on 100k items, too large to hold dense
    table = sp.csr_matrix((np.ones(int(both.sum()), np.int64), (codes[both], tcodes[both])),
                          shape=(n_clusters, max(tnames.size, 1)))
    table.sum_duplicates()
    table.sort_indices()  # so argmax's first maximum is the smallest class
    out = []
    for c in range(n_clusters):
        lo, hi = table.indptr[c], table.indptr[c + 1]
        if lo == hi:
            out.append((None, 0, 0))
            continue
        top = lo + int(np.argmax(table.data[lo:hi]))
        out.append((_name(tnames[table.indices[top]]), int(table.data[top]),
                    int(table.data[lo:hi].sum())))
    return out


def page_data(items: Items, labels, *, embeddings=None, true_labels=None, title: str = "",
              items_per_card: int = 5, words_per_card: int = 8, max_clusters: int = 2000,
              map_points: int = 5000, map_method: str | None = "tsne",
              random_state: int = 0) -> dict:
    """The page's data (see :func:`hilander.viewer.cluster_page` for the parameters)."""
    from .central import central_items

    items_per_card = check_int(items_per_card, "items_per_card", low=1, high=1000)
    words_per_card = check_int(words_per_card, "words_per_card", low=0, high=100)
    max_clusters = check_int(max_clusters, "max_clusters", low=1)
    n = items.n
    for what, values in (("labels", labels), ("true labels", true_labels)):
        if values is not None and len(values) != n:
            raise InputError(f"{what} have {len(values)} entries for {n} items")
    names, codes = cluster_codes(labels, n)
    X = None
    if embeddings is not None:
        X = check_features(embeddings, name="embeddings")
        if X.shape[0] != n:
            raise InputError(f"embeddings have {X.shape[0]} rows for {n} items")
    if true_labels is not None:
        true_labels = check_labels(true_labels, n, name="true labels")
    sizes = np.bincount(codes[codes >= 0], minlength=names.size)
    # largest first; equal sizes in label order (names are sorted)
    by_size = np.lexsort((np.arange(names.size), -sizes))
    clusters = by_size[sizes[by_size] >= 2]
    listed = clusters[:max_clusters]
    singletons = np.flatnonzero(sizes == 1)
    noise = np.flatnonzero(codes < 0)

    features = X if X is not None else items.fallback_features()
    central = central_items(features, codes, top_n=items_per_card) if names.size else {}
    words: dict = {}
    if items.kind == "text" and words_per_card and names.size:
        from .keywords import cluster_keywords

        words = cluster_keywords(items.texts, codes, top_n=words_per_card)
    thumbs: list[str] = []

    def item(i: int) -> dict:
        out: dict = {"i": int(i)}
        if items.kind == "text":
            out["t"] = _clip(items.texts[i], CARD_CHARS)
        else:
            out["img"] = len(thumbs)
            thumbs.append(items.thumbnail(int(i)))
        if items.names is not None:
            out["n"] = items.names[i]
        return out

    majority = purity(true_labels, codes, names.size) if true_labels is not None else None
    cards = []
    for c in listed.tolist():
        card = {"id": _name(names[c]), "size": int(sizes[c]),
                "items": [item(i) for i in central[c]],
                "words": [[w, round(s, 4)] for w, s in words.get(c, [])]}
        if majority is not None:
            label, count, labeled = majority[c]
            card["majority"] = label
            card["majority_count"] = count
            card["purity"] = round(count / labeled, 4) if labeled else None
        cards.append(card)
    data: dict = {
        "title": title, "kind": items.kind, "n_items": n, "n_clusters": int(clusters.size),
        "n_listed": int(listed.size), "n_singletons": int(singletons.size),
        "n_noise": int(noise.size), "items_per_card": items_per_card,
        "largest": int(sizes.max()) if names.size else 0,
        "cards": cards,
        "singletons": [{**item(i), "c": _name(names[codes[i]])}
                       for i in np.flatnonzero(np.isin(codes, singletons))[:EXAMPLES]],
        "noise": [item(i) for i in noise[:EXAMPLES]],
        "thumbs": thumbs, "notes": [], "metrics": None, "map": None,
    }
    if true_labels is not None:
        from ..metrics import avg_f, evaluate

        scores = evaluate(true_labels, np.where(codes >= 0, codes, -1))
        scores["avg_f"] = avg_f(scores)
        # counts are marked as such: JSON writes 1.0 as 1, which would read as a count
        data["metrics"] = [[label, scores[key], key.startswith("n_")] for key, label in METRICS]
    notes = data["notes"]
    if listed.size < clusters.size:
        notes.append(f"The {listed.size:,} largest of {clusters.size:,} clusters are listed; "
                     "the others are counted in the summary (raise max_clusters / "
                     "--max-clusters to list more).")
    if X is None:
        notes.append("No embeddings given: central items are the nearest to the mean "
                     + ("TF-IDF vector of their cluster's texts"
                        if items.kind == "text" else "16 x 16 grey image of their cluster")
                     + ", and there is no map.")
    elif map_method is not None:
        data["map"] = _map(X, items, names, codes, listed, map_points, map_method,
                           random_state)
        if data["map"]["n"] < n:
            notes.append(f"The map shows a uniform random sample of {data['map']['n']:,} of "
                         f"the {n:,} items (seed {random_state}).")
    if items.kind == "text" and any(len(t) > CARD_CHARS for t in items.texts):
        notes.append(f"Texts longer than {CARD_CHARS} characters are cut on the cards.")
    return data


def _map(X, items: Items, names, codes, listed, max_points: int, method: str,
         random_state: int) -> dict:
    from .layout import map_2d

    idx, xy = map_2d(X, max_points=max_points, method=method, random_state=random_state)
    rank = np.full(names.size + 1, -2, dtype=np.int64)  # -2: a cluster without a card
    rank[listed] = np.arange(listed.size)
    rank[-1] = -1  # noise (code -1 reads the last entry)
    card = rank[codes[idx]]

    def hover(i: int) -> str:
        if items.kind == "text":
            return _clip(items.texts[i], HOVER_CHARS)
        return items.names[i] if items.names is not None else f"item {i}"

    return {
        "n": int(idx.size), "method": method,
        "x": [round(float(v), 4) for v in xy[:, 0]],
        "y": [round(float(v), 4) for v in xy[:, 1]],
        "card": card.tolist(),
        "cluster": ["" if codes[i] < 0 else _name(names[codes[i]]) for i in idx],
        "text": [hover(int(i)) for i in idx],
        "i": idx.tolist(),
    }
