"""The cluster page (issue 27): its numbers, its escaping and ``hilander report``.

The browser-side behaviour (cards, map, filter, pages, no script from the data) is checked in
a real browser by tests/test_viewer_browser.py; here, everything the page is computed from.
"""

from __future__ import annotations

import doctest
import json
import math
import re
import time

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from hilander import InputError
from hilander.cli import main
from hilander.metrics import avg_f, evaluate
from hilander.viewer import (
    central_items,
    centrality,
    class_tfidf,
    cluster_keywords,
    cluster_page,
    map_2d,
    tfidf_features,
)
from hilander.viewer.items import as_items
from hilander.viewer.summary import page_data

XSS = ["<script>window.__pwned = 1</script>", '<img src=x onerror="window.__pwned = 2">',
       "</script><script>window.__pwned = 3</script>"]


def page_json(page: str) -> dict:
    """The data block of a page, parsed as the page's script parses it."""
    block = re.search(r'<script type="application/json" id="hl-data">(.*?)</script>', page,
                      re.S)
    return json.loads(block.group(1))


# ---------------------------------------------------------------- keywords (c-TF-IDF)


# three tiny clusters, counted by hand: A has 4 words, B 4, C 3, so A_avg = 11/3;
# apple and dog occur 3 times in all, every other word once
TINY = ["apple banana", "apple cherry", "dog cat", "dog bird", "apple dog sun",
        "zebra zebra the"]
TINY_LABELS = [0, 0, 1, 1, 2, -1]


def test_class_tfidf_matches_the_formula_by_hand():
    names, W, terms = class_tfidf(TINY, TINY_LABELS)
    assert names.tolist() == [0, 1, 2]
    # noise (-1) is no cluster and counts nowhere; "the" is a stop word
    assert terms.tolist() == ["apple", "banana", "bird", "cat", "cherry", "dog", "sun"]
    common, rare = math.log(1 + (11 / 3) / 3), math.log(1 + 11 / 3)
    W = W.toarray()
    col = {t: j for j, t in enumerate(terms)}
    assert W[0, col["apple"]] == pytest.approx(2 / 4 * common)  # 0.3993
    assert W[0, col["banana"]] == pytest.approx(1 / 4 * rare)   # 0.3851
    assert W[1, col["dog"]] == pytest.approx(2 / 4 * common)
    assert W[2, col["sun"]] == pytest.approx(1 / 3 * rare)      # 0.5135
    assert W[2, col["apple"]] == pytest.approx(1 / 3 * common)  # 0.2662
    assert W[0, col["dog"]] == 0 and W[2, col["banana"]] == 0


def test_cluster_keywords_rank_the_distinctive_word_first():
    words = cluster_keywords(TINY, TINY_LABELS, top_n=2)
    assert set(words) == {0, 1, 2}
    # apple (2 of A's 4 words, but in C too) just beats banana (1 of 4, only in A)
    assert [w for w, _ in words[0]] == ["apple", "banana"]  # banana ties cherry: by word
    assert [w for w, _ in words[1]] == ["dog", "bird"]
    # in C, the word found nowhere else wins over the two shared ones
    assert words[2][0] == ("sun", pytest.approx(math.log(1 + 11 / 3) / 3))
    # string labels, and a cluster of stop words only, have entries too
    words = cluster_keywords(["the and", "of the", "red fox", "red dog"],
                             ["stop", "stop", "fox", "fox"])
    assert words["stop"] == [] and words["fox"][0][0] == "red"
    with pytest.raises(InputError, match="every item is noise"):
        cluster_keywords(["a b", "c d"], [-1, -1])


# ---------------------------------------------------------------- central items


def test_central_item_is_the_one_nearest_the_mean_direction():
    # b is 100 times longer than a and c: on raw rows the mean points at b, but on
    # l2-normalised rows the mean direction is at 34 degrees and c (18 deg) is nearest
    X = np.array([[1, 0], [0, 100], [3, 1], [9, 9], [-1, 0.1], [-1, -0.1]], dtype=float)
    labels = [5, 5, 5, -1, 8, 8]
    mean = np.array([1, 0]) + np.array([0, 1]) + np.array([3, 1]) / math.sqrt(10)
    mean /= np.linalg.norm(mean)
    cos = centrality(X, labels)
    np.testing.assert_allclose(cos[:3], [mean[0], mean[1], (3 * mean[0] + mean[1])
                                         / math.sqrt(10)])
    assert np.isnan(cos[3])
    assert cos[:3].round(3).tolist() == [0.829, 0.56, 0.963]
    got = central_items(X, labels, top_n=2)
    assert {k: v.tolist() for k, v in got.items()} == {5: [2, 0], 8: [4, 5]}  # 8: a tie
    assert central_items(X, labels, top_n=10)[5].tolist() == [2, 0, 1]


def test_central_text_without_embeddings_shares_most_words():
    texts = ["card lost", "card stolen lost", "my card was stolen", "lost card",
             "rain today", "rain tomorrow maybe", "rain"]
    labels = [0, 0, 0, 0, 1, 1, 1]
    got = central_items(tfidf_features(texts), labels, top_n=1)
    # the one text holding all three of the cluster's common words; the word all three
    # weather texts share, alone
    assert got[0].tolist() == [1] and got[1].tolist() == [6]


# ---------------------------------------------------------------- the map


def test_map_samples_large_sets_and_fills_the_unit_square():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(loc=c, size=(300, 8)) for c in (-5, 5)])
    idx, xy = map_2d(X, max_points=200, method="pca", random_state=1)
    assert idx.size == 200 and np.all(np.diff(idx) > 0) and idx.max() < 600
    assert xy.shape == (200, 2) and xy.min() == 0 and xy.max() == 1
    again, _ = map_2d(X, max_points=200, method="pca", random_state=1)
    np.testing.assert_array_equal(idx, again)  # the seed fixes the sample
    idx, xy = map_2d(X[::20], method="tsne")
    assert idx.tolist() == list(range(30))
    left = xy[:15, 0].mean() < xy[15:, 0].mean()  # the two blobs stay apart
    a, b = (xy[:15], xy[15:]) if left else (xy[15:], xy[:15])
    assert np.linalg.norm(a.mean(0) - b.mean(0)) > 0.3


# ---------------------------------------------------------------- the page's data


def _texts_set():
    texts = (["reset my password please", "i forgot my password", "password reset link"]
             + ["will it rain tomorrow", "rain forecast for tomorrow"]
             + ["play some jazz", "a lonely text", "noise here", "more noise"])
    labels = np.array([3, 3, 3, 1, 1, 7, 9, -1, -1])
    true = np.array(["pw", "pw", "wx", "wx", "wx", "music", "music", "pw", "wx"])
    X = np.array([[1, 0, 0], [0.9, 0.1, 0], [0.8, 0.3, 0], [0, 1, 0], [0, 0.9, 0.2],
                  [0, 0, 1], [0.2, 0, 1], [1, 1, 1], [0.5, 0.5, 0]], dtype=np.float32)
    return texts, labels, true, X


def test_page_data_counts_sorts_and_scores():
    texts, labels, true, X = _texts_set()
    data = page_data(as_items(texts), labels, embeddings=X, true_labels=true,
                     items_per_card=2, map_method="pca")
    assert (data["n_items"], data["n_clusters"], data["n_singletons"], data["n_noise"]) == \
        (9, 2, 2, 2)
    cards = data["cards"]
    assert [(c["id"], c["size"]) for c in cards] == [("3", 3), ("1", 2)]  # largest first
    assert [it["i"] for it in cards[0]["items"]] == [1, 0]  # most central first, 2 per card
    assert (cards[0]["majority"], cards[0]["majority_count"], cards[0]["purity"]) == \
        ("pw", 2, pytest.approx(2 / 3, abs=1e-4))
    assert (cards[1]["majority"], cards[1]["purity"]) == ("wx", 1.0)
    assert cards[0]["words"][0][0] == "password"
    assert sorted(s["c"] for s in data["singletons"]) == ["7", "9"]
    assert [s["i"] for s in data["noise"]] == [7, 8]
    metrics = {row[0]: row[1] for row in data["metrics"]}
    want = evaluate(true, labels)
    assert metrics["pairwise F"] == pytest.approx(want["pairwise_f"])
    assert metrics["avg F (Fp, Fb)"] == pytest.approx(avg_f(want))
    assert metrics["clusters (noise as singletons)"] == 6  # 2 + 2 singletons + 2 noise
    assert data["map"]["n"] == 9 and data["map"]["card"] == [0, 0, 0, 1, 1, -2, -2, -1, -1]
    assert data["notes"] == []


def test_page_data_says_when_it_samples_or_caps():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(30), 10)
    texts = [f"word{c} filler{i}" for i, c in enumerate(labels)]
    X = rng.normal(size=(300, 5)).astype(np.float32)
    data = page_data(as_items(texts), labels, embeddings=X, max_clusters=12, map_points=100,
                     map_method="pca")
    assert len(data["cards"]) == 12 and data["n_clusters"] == 30
    assert data["notes"][0].startswith("The 12 largest of 30 clusters are listed")
    assert "uniform random sample of 100 of the 300 items" in data["notes"][1]
    assert len(data["map"]["x"]) == 100
    data = page_data(as_items(texts), labels)
    assert data["map"] is None and "No embeddings given" in data["notes"][0]


@pytest.mark.parametrize("labels, cards, singletons, noise", [
    ([-1, -1, -1, -1, -1], [], 0, 5),    # all noise: no cluster at all
    ([4, 4, 4, 4, 4], [5], 0, 0),        # one cluster
    ([0, 1, 2, 3, 4], [], 5, 0),         # all singletons
])
def test_page_data_on_degenerate_clusterings(labels, cards, singletons, noise):
    X = np.random.default_rng(0).normal(size=(5, 4))
    data = page_data(as_items(["a b", "c d", "e f", "g h", "the"]), labels, embeddings=X,
                     true_labels=[1, 1, 2, 2, -1], map_method="pca")
    assert [c["size"] for c in data["cards"]] == cards
    assert (data["n_singletons"], data["n_noise"]) == (singletons, noise)
    assert data["map"]["n"] == 5 and set(data["map"]["card"]) <= {-2, -1, 0}
    assert page_data(as_items(["one"]), [0], embeddings=X[:1])["map"]["x"] == [0.5]


def test_every_user_string_is_escaped():
    texts, labels, true, X = _texts_set()
    texts[:3] = XSS
    labels = np.array(["<svg onload=window.__pwned=4>" if v == 3 else str(v) for v in labels])
    page = cluster_page(texts, labels, embeddings=X, true_labels=true, map_method="pca",
                        names=[f"<b>{i}</b>" for i in range(9)], title="<i>t</i></title>")
    # the page's own two script blocks, and no other markup from the data
    assert page.count("<script") == 2 and page.count("</script>") == 2
    assert "<img" not in page and "<svg" not in page and "<b>" not in page
    assert "<title>&lt;i&gt;t&lt;/i&gt;&lt;/title&gt;</title>" in page
    data = page_json(page)  # the texts come back whole, to be shown as text
    assert {it["t"] for c in data["cards"] for it in c["items"]} >= set(XSS[:2])
    assert data["cards"][0]["id"] == "<svg onload=window.__pwned=4>"
    # the script that draws the page is the only one the page's policy lets run
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)[1]
    assert "default-src 'none'" in policy and "'unsafe-inline'" not in policy
    assert re.search(r"script-src 'sha256-[A-Za-z0-9+/=]+';", policy)


def test_images_get_thumbnails_and_a_pixel_fallback():
    rng = np.random.default_rng(0)
    imgs = np.zeros((12, 28, 28), np.float32)
    for i in range(12):
        if i < 6:
            imgs[i, 10:18, 2:26] = 1  # horizontal bars
        else:
            imgs[i, 2:26, 10:18] = 1  # vertical bars
        imgs[i] += 0.05 * rng.random((28, 28))
    imgs[0, :, :] = 0.5  # an odd one out in the first cluster
    labels = np.repeat([0, 1], 6)
    data = page_data(as_items(imgs), labels, items_per_card=3)
    first = data["cards"][0]
    assert 0 not in [it["i"] for it in first["items"]]  # never central
    uri = data["thumbs"][first["items"][0]["img"]]
    assert uri.startswith("data:image/png;base64,")
    import base64
    import io

    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as im:
        assert im.size == (28, 28)
    with pytest.raises(InputError, match=r"\(n, h, w\)"):
        as_items(np.zeros((3, 4)))
    with pytest.raises(InputError, match="labels have 11 entries for 12 items"):
        cluster_page(imgs, labels[:11])
    with pytest.raises(InputError, match="true labels have 2 entries for 12 items"):
        cluster_page(imgs, labels, true_labels=[0, 1])


def test_a_hundred_thousand_items_make_a_page_of_bounded_size():
    rng = np.random.default_rng(0)
    n = 100_000
    labels = rng.integers(0, 8000, n)
    labels[rng.random(n) < 0.05] = -1
    texts = [f"t{v % 97} w{v % 13} n{i % 50}" for i, v in enumerate(labels)]
    X = rng.normal(size=(n, 16)).astype(np.float32)
    t0 = time.perf_counter()
    data = page_data(as_items(texts), labels, embeddings=X, map_method="pca")
    seconds = time.perf_counter() - t0
    assert len(data["cards"]) == 2000 and data["map"]["n"] == 5000
    assert all(len(c["items"]) <= 5 for c in data["cards"])
    size = len(json.dumps(data))
    assert size < 3e6, size
    assert seconds < 60, seconds


def test_viewer_examples_run():
    import hilander.viewer as viewer
    from hilander.viewer import central, keywords, layout

    for module in (viewer, central, keywords, layout):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0 and result.failed == 0, module.__name__


# ---------------------------------------------------------------- hilander report


@pytest.fixture
def text_files(tmp_path):
    texts, labels, true, X = _texts_set()
    (tmp_path / "texts.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    np.save(tmp_path / "labels.npy", labels)
    np.save(tmp_path / "X.npy", X)
    (tmp_path / "true.txt").write_text("\n".join(true) + "\n")
    return tmp_path


def test_cli_report_writes_the_page(text_files, capsys):
    d = text_files
    out = d / "page.html"
    assert main(["report", str(d / "texts.txt"), str(d / "labels.npy"), "--out", str(out),
                 "--embeddings", str(d / "X.npy"), "--true-labels", str(d / "true.txt"),
                 "--map", "pca", "--title", "Intents"]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"wrote {out} (") and "9 texts, 4 clusters" in said
    data = page_json(out.read_text(encoding="utf-8"))
    assert data["title"] == "Intents" and [c["size"] for c in data["cards"]] == [3, 2]
    assert data["metrics"] is not None and data["map"]["method"] == "pca"
    # the Python function writes the same page
    _, labels, true, X = _texts_set()
    same = cluster_page(d / "texts.txt", labels, embeddings=X, true_labels=true,
                        map_method="pca", title="Intents")
    assert same == out.read_text(encoding="utf-8")


def test_cli_report_from_a_table_and_an_image_folder(tmp_path, capsys):
    df = pd.DataFrame({"text": ["caf\xe9 noir", "caf\xe9 cr\xe8me", "th\xe9 vert", "th\xe9"],
                       "intent": ["coffee", "coffee", "tea", "tea"]})
    df.to_csv(tmp_path / "t.csv", index=False, encoding="latin-1")
    (tmp_path / "y.txt").write_text("0\n0\n1\n1\n")
    argv = ["report", str(tmp_path / "t.csv"), str(tmp_path / "y.txt"), "--column", "text",
            "--true-label-column", "intent", "--out", str(tmp_path / "p.html")]
    assert main(argv) == 2  # latin-1 is read only when named
    assert "line 2 is not valid utf-8" in capsys.readouterr().err
    assert main([*argv, "--encoding", "latin-1"]) == 0
    data = page_json((tmp_path / "p.html").read_text(encoding="utf-8"))
    assert data["cards"][0]["items"][0]["t"].startswith("caf\xe9")
    assert data["cards"][0]["majority"] == "coffee" and data["cards"][0]["words"][0][0] == \
        "caf\xe9"
    for cls, ink in (("h", (slice(10, 14), slice(2, 20))), ("v", (slice(2, 20), slice(10, 14)))):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(3):
            a = np.full((22, 22), 255, np.uint8)
            a[ink] = 0
            Image.fromarray(a).save(tmp_path / "imgs" / cls / f"{i}.png")
    np.save(tmp_path / "yi.npy", np.array([0, 0, 0, 1, 1, 1]))
    assert main(["report", str(tmp_path / "imgs"), str(tmp_path / "yi.npy"), "--out",
                 str(tmp_path / "i.html"), "--true-labels", "folders"]) == 0
    data = page_json((tmp_path / "i.html").read_text(encoding="utf-8"))
    assert data["kind"] == "image" and len(data["thumbs"]) == 6
    assert [c["majority"] for c in data["cards"]] == ["h", "v"]
    assert data["cards"][0]["items"][0]["n"].startswith("h/")


@pytest.mark.parametrize("argv, message", [
    (["--out", "{d}/page.txt"], "--out must end in .html or .htm"),
    (["--out", "{d}/missing/page.html"], "does not exist"),
    (["--out", "{d}/page.html", "--per-card", "0"], "--per-card must be >= 1"),
    (["--out", "{d}/page.html", "--map-points", "2"], "--map-points must be >= 3"),
    (["--out", "{d}/page.html", "--encoding", "nope"], "unknown text encoding 'nope'"),
    (["--out", "{d}/page.html", "--embeddings", "{d}/X3.npy"],
     "X3.npy has 3 embedding rows for the 9 items"),
    (["--out", "{d}/true.html", "--true-labels", "{d}/true.html"], "is the input file"),
    (["--out", "{d}/page.html", "--true-labels", "folders"], "needs an image folder"),
])
def test_cli_report_bad_arguments_exit_2_in_one_line(text_files, capsys, monkeypatch, argv,
                                                    message):
    d = text_files
    if "embedding rows" not in message:  # the only check that needs the items
        def boom(*args, **kwargs):
            raise AssertionError("read the items before checking the arguments")

        monkeypatch.setattr("hilander.viewer.items.as_items", boom)
    np.save(d / "X3.npy", np.ones((3, 2)))
    (d / "true.html").write_text("a\n" * 9)
    argv = [a.format(d=d) for a in argv]
    assert main(["report", str(d / "texts.txt"), str(d / "labels.npy"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (d / "page.html").exists()
    assert (d / "true.html").read_text() == "a\n" * 9  # an input is never overwritten


def test_cli_report_refuses_binary_items_and_wrong_label_counts(text_files, capsys):
    d = text_files
    for raw, message in ((b"fine\nPNG\x00\x01\n", "line 2 holds a NUL byte"),
                         (b"fine\n\x89PNG\r\n", "line 2 is not valid utf-8 text (byte 0x89")):
        (d / "blob.txt").write_bytes(raw)
        assert main(["report", str(d / "blob.txt"), str(d / "labels.npy"), "--out",
                     str(d / "p.html")]) == 2
        assert f"{d / 'blob.txt'}: {message}" in capsys.readouterr().err
    np.save(d / "short.npy", np.zeros(4, np.int64))
    assert main(["report", str(d / "texts.txt"), str(d / "short.npy"), "--out",
                 str(d / "p.html")]) == 2
    assert "short.npy has 4 labels for the 9 items" in capsys.readouterr().err
    assert not (d / "p.html").exists()
