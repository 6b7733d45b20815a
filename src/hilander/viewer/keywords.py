"""Distinctive words of each cluster by class-based TF-IDF (c-TF-IDF).

The idea is BERTopic's (Grootendorst, 2022): treat all texts of a cluster as one document and
weight term ``t`` in cluster ``c`` by

    W(t, c) = tf(t, c) * log(1 + A / f(t))

where ``tf(t, c)`` is t's count in c divided by the number of words in c, ``f(t)`` is t's
count over all clusters and ``A`` the average number of words per cluster. A word frequent in
one cluster and rare elsewhere scores high; a word every cluster uses scores low. Written here
from that formula with scikit-learn's CountVectorizer and sparse sums.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._validation import InputError
from ._labels import cluster_codes


def class_tfidf(texts: Sequence[str], labels, *, stop_words: str | list[str] | None = "english",
                ngram_range: tuple[int, int] = (1, 1)):
    """The c-TF-IDF matrix of the clusters.

    Parameters
    ----------
    texts : sequence of str
        One text per item.
    labels : array-like of shape (n_items,)
        Cluster of each item; integer ``-1`` (noise) is left out.
    stop_words : "english", list of str or None, default="english"
        Words never counted (scikit-learn's English list by default).
    ngram_range : tuple of int, default=(1, 1)
        Word n-grams counted, as in CountVectorizer.

    Returns
    -------
    names : numpy.ndarray
        The clusters, one per row of ``weights`` (sorted labels).
    weights : scipy.sparse.csr_matrix of shape (n_clusters, n_terms)
        ``W(t, c)`` as in the module docstring.
    terms : numpy.ndarray of str
        The term of each column.

    Examples
    --------
    >>> names, W, terms = class_tfidf(["red apple", "green apple", "blue sky"], [0, 0, 1])
    >>> terms.tolist()
    ['apple', 'blue', 'green', 'red', 'sky']
    >>> W.toarray().round(3).tolist()  # apple: 2/4 * log(1 + 3/2)
    [[0.458, 0.0, 0.347, 0.347, 0.0], [0.0, 0.693, 0.0, 0.0, 0.693]]
    """
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import CountVectorizer

    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise InputError("texts must be a sequence of strings")
    names, codes = cluster_codes(labels, len(texts))
    keep = np.flatnonzero(codes >= 0)
    if keep.size == 0:
        raise InputError("every item is noise (-1): no cluster to describe")
    vectorizer = CountVectorizer(stop_words=stop_words, ngram_range=ngram_range)
    try:
        counts = vectorizer.fit_transform([texts[i] for i in keep])
    except ValueError:  # only stop words or no word at all: nothing is distinctive
        return names, sp.csr_matrix((names.size, 0)), np.array([], dtype=str)
    # one row per cluster: the sum of its texts' counts (the cluster as one document)
    member = sp.csr_matrix((np.ones(keep.size), (codes[keep], np.arange(keep.size))),
                           shape=(names.size, keep.size))
    per_cluster = (member @ counts).tocsr().astype(np.float64)
    words = np.asarray(per_cluster.sum(axis=1)).ravel()
    average = words.mean()
    frequency = np.asarray(per_cluster.sum(axis=0)).ravel()
    idf = np.log1p(average / frequency)
    tf = sp.diags(1.0 / np.maximum(words, 1.0)) @ per_cluster
    weights = (tf @ sp.diags(idf)).tocsr()
    return names, weights, vectorizer.get_feature_names_out()


def cluster_keywords(texts: Sequence[str], labels, *, top_n: int = 8,
                     stop_words: str | list[str] | None = "english") -> dict:
    """The ``top_n`` most distinctive words of every cluster by c-TF-IDF.

    Parameters
    ----------
    texts : sequence of str
        One text per item.
    labels : array-like of shape (n_items,)
        Cluster of each item; integer ``-1`` (noise) gets no entry.
    top_n : int, default=8
        Words per cluster (fewer when a cluster has fewer distinct words).
    stop_words : "english", list of str or None, default="english"
        Words never counted.

    Returns
    -------
    dict
        Cluster label -> list of ``(word, weight)``, highest weight first (ties by word).

    Examples
    --------
    >>> texts = ["cat meows", "cat purrs", "dog barks", "dog growls"]
    >>> [w for w, _ in cluster_keywords(texts, [0, 0, 1, 1], top_n=1)[1]]
    ['dog']
    """
    names, weights, terms = class_tfidf(texts, labels, stop_words=stop_words)
    out: dict = {}
    for c, name in enumerate(names.tolist()):
        row = weights.getrow(c)
        order = sorted(zip(-row.data, terms[row.indices]))[:top_n]
        out[name] = [(str(t), float(-w)) for w, t in order if w < 0]
    return out
