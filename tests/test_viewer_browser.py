"""The cluster page in a real browser (issue 27): headless Chromium through chromedriver.

Checks what only a browser can: the cards render, the map draws its points and answers
hover and click, the filter narrows the cards, the pages turn, the console stays free of
errors, and texts, labels and file names holding markup show as text with nothing run. A
screenshot of the page is kept as an artifact ($HILANDER_ARTIFACTS, else tests/artifacts).

Needs Debian's ``chromium`` and ``chromium-driver`` (.ci/run installs them) and the
``selenium`` package; the driver is given by path, so Selenium never downloads one.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hilander.viewer import cluster_page

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
    pytest.skip(f"no browser: {CHROMIUM} and {CHROMEDRIVER} are needed (apt-get install "
                "chromium chromium-driver)", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver",
                                reason="selenium is not installed (pip install -e '.[test]')")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("HILANDER_ARTIFACTS") or ROOT / "tests" / "artifacts")
XSS_TEXTS = ["<script>window.__pwned = 1</script> jazz night",
             '<img src=x onerror="window.__pwned = 2"> jazz club']
XSS_LABEL = "<img src=x onerror=window.__pwned=3>"
TOPICS = ["jazz", "rain", "card", "flight", "pizza", "alarm", "music", "taxi", "bank", "hotel"]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # without the background-networking flags Chromium calls home, on a network that has
    # no home to call; a fresh profile keeps runs apart
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def open_page(driver, path: Path) -> float:
    """Load ``path``; seconds until its script finished drawing."""
    t0 = time.perf_counter()
    driver.get(path.resolve().as_uri())
    while driver.execute_script("return document.body.dataset.ready") != "1":
        assert time.perf_counter() - t0 < 30, "the page never finished drawing"
        time.sleep(0.05)
    return time.perf_counter() - t0


def console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] in ("SEVERE",)]


def shown_cards(driver) -> list[str]:
    return [h.text for h in driver.find_elements(By.CSS_SELECTOR, "#cards .card h3")]


def set_filter(driver, text: str) -> None:
    """Type into the filter box as a user does (Selenium's clear() fires no input event)."""
    box = driver.find_element(By.ID, "filter")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACKSPACE)
    if text:
        box.send_keys(text)
    assert box.get_attribute("value") == text


def nothing_ran(driver) -> None:
    assert driver.execute_script("return typeof window.__pwned") == "undefined"
    assert driver.execute_script(
        "return document.querySelectorAll('img[src=\"x\"], svg, iframe, script').length") == 2


@pytest.fixture(scope="module")
def text_page(tmp_path_factory):
    """130 clusters of 6 texts (3 pages of cards), 10 noise texts, texts and a true label
    holding markup."""
    rng = np.random.default_rng(0)
    texts, labels, true, X = [], [], [], []
    centres = rng.normal(size=(130, 24))
    for c in range(130):
        topic = TOPICS[c % len(TOPICS)]
        for i in range(6):
            texts.append(f"{topic} request number {c} variant {i}")
            labels.append(c)
            true.append(topic)
            X.append(centres[c] + 0.1 * rng.normal(size=24))
    texts[:2] = XSS_TEXTS
    true[:6] = [XSS_LABEL] * 6
    for i in range(10):
        texts.append(f"stray noise {i}")
        labels.append(-1)
        true.append("noise")
        X.append(rng.normal(size=24))
    path = tmp_path_factory.mktemp("pages") / "texts.html"
    cluster_page(texts, labels, embeddings=np.array(X), true_labels=true, out=path,
                 items_per_card=6, map_method="pca", title="Browser test <b>page</b>")
    return path


def test_text_page_cards_map_filter_pages_and_no_script_from_data(browser, text_page):
    seconds = open_page(browser, text_page)
    assert seconds < 10
    assert browser.title == "Browser test <b>page</b>"  # the title, as text
    nothing_ran(browser)
    # cards: 50 per page, largest first, three pages
    assert len(shown_cards(browser)) == 50
    assert browser.find_element(By.ID, "page").text == "page 1 of 3"
    assert browser.find_element(By.ID, "prev").get_attribute("disabled") == "true"
    summary = browser.find_element(By.ID, "summary").text
    assert "790 items" in summary and "130 clusters of two or more" in summary
    assert "10 noise" in summary
    # the texts and the majority label holding markup show as plain text
    set_filter(browser, "__pwned")
    assert shown_cards(browser) == ["Cluster 0"]
    items = [li.get_attribute("textContent")
             for li in browser.find_elements(By.CSS_SELECTOR, "#cards .texts li")]
    assert any(t.startswith(XSS_TEXTS[0]) for t in items)
    assert any(t.startswith(XSS_TEXTS[1]) for t in items)
    assert browser.find_element(By.CSS_SELECTOR, "#cards .purity").text == \
        f"purity 1.00 \u00b7 majority: {XSS_LABEL} (6)"
    nothing_ran(browser)
    # the filter: words (all must occur), "#label" for one cluster, nothing
    set_filter(browser, "pizza")
    assert len(shown_cards(browser)) == 13  # clusters 4, 14, ..., 124
    assert browser.find_element(By.ID, "count").text == "13 of 130 clusters"
    set_filter(browser, "pizza 104")  # both words, anywhere in the card
    assert shown_cards(browser) == ["Cluster 104"]
    set_filter(browser, "pizza 24")  # a word may be part of another: 24 is in 124
    assert shown_cards(browser) == ["Cluster 24", "Cluster 124"]
    set_filter(browser, "#57")
    assert shown_cards(browser) == ["Cluster 57"]
    set_filter(browser, "no such words anywhere")
    assert shown_cards(browser) == []
    assert browser.find_element(By.ID, "empty").text == "No cluster matches the filter."
    set_filter(browser, "")
    # pages
    first = shown_cards(browser)
    browser.find_element(By.ID, "next").click()
    assert browser.find_element(By.ID, "page").text == "page 2 of 3"
    second = shown_cards(browser)
    assert len(second) == 50 and not set(first) & set(second)
    browser.find_element(By.ID, "next").click()
    assert browser.find_element(By.ID, "page").text == "page 3 of 3"
    assert len(shown_cards(browser)) == 30
    assert browser.find_element(By.ID, "next").get_attribute("disabled") == "true"
    browser.find_element(By.ID, "prev").click()
    assert shown_cards(browser) == second
    # the map: drawn points, a hover box naming the point under the mouse, click to filter
    canvas = browser.find_element(By.ID, "map")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    painted = browser.execute_script("""
        const c = arguments[0], px = c.getContext('2d').getImageData(0, 0, c.width, c.height);
        let n = 0; for (let i = 3; i < px.data.length; i += 4) if (px.data[i] > 0) n++;
        return n;""", canvas)
    assert painted > 780 * 4  # every point is a few pixels wide
    data = browser.execute_script(
        "return JSON.parse(document.getElementById('hl-data').textContent).map")
    left, top, side = browser.execute_script("return JSON.parse(arguments[0].dataset.transform)",
                                             canvas)
    width, height = canvas.size["width"], canvas.size["height"]
    xs = left + np.array(data["x"]) * side
    ys = top + (1 - np.array(data["y"])) * side
    target = int(np.flatnonzero(np.array(data["card"]) >= 0)[7])
    dx, dy = round(xs[target] - width / 2), round(ys[target] - height / 2)
    ActionChains(browser).move_to_element_with_offset(canvas, dx, dy).perform()
    tip = browser.find_element(By.ID, "tip")
    assert tip.is_displayed()
    at = np.array([width / 2 + dx, height / 2 + dy])
    nearest = int(np.argmin(np.hypot(xs - at[0], ys - at[1])))
    assert tip.find_element(By.CLASS_NAME, "tip-text").text == data["text"][nearest]
    assert tip.find_element(By.CLASS_NAME, "tip-cluster").text.startswith(
        f"cluster {data['cluster'][nearest]} \u00b7 6 items")
    ActionChains(browser).click().perform()
    assert browser.find_element(By.ID, "filter").get_attribute("value") == \
        f"#{data['cluster'][nearest]}"
    assert shown_cards(browser) == [f"Cluster {data['cluster'][nearest]}"]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    ActionChains(browser).move_to_element_with_offset(canvas, -width // 2 + 2,
                                                      -height // 2 + 2).perform()
    assert not tip.is_displayed()
    set_filter(browser, "")
    nothing_ran(browser)
    # the page asked for nothing outside itself, and logged no error
    assert browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)") == []
    assert console_errors(browser) == []
    _screenshot(browser, "report_page.png")


def test_image_folder_page_shows_thumbnails_and_file_names_as_text(browser, tmp_path):
    root = tmp_path / "imgs"
    rng = np.random.default_rng(1)
    for cls in ("bars", "dots"):
        (root / cls).mkdir(parents=True)
        for i in range(4):
            a = np.full((40, 40, 3), 255, np.uint8)
            if cls == "bars":
                a[8:32, 6 + 6 * i:10 + 6 * i] = (200, 40, 40)
            else:
                a[6 * i:6 * i + 8, 6 * i:6 * i + 8] = (40, 40, 200)
            Image.fromarray(a).save(root / cls / f"{i}.png")
    evil = "<img src=x onerror=window.__pwned=5>.png"
    Image.fromarray(np.zeros((12, 12), np.uint8)).save(root / "dots" / evil)
    labels = np.array([XSS_LABEL] * 4 + ["dots"] * 5)
    X = np.vstack([rng.normal(loc=m, size=(n, 6)) for m, n in ((-3, 4), (3, 5))])
    page = tmp_path / "images.html"
    cluster_page(root, labels, embeddings=X, true_labels=["bars"] * 4 + ["dots"] * 5,
                 out=page, map_method="pca")
    open_page(browser, page)
    nothing_ran(browser)
    images = browser.find_elements(By.CSS_SELECTOR, "#cards .thumbs img")
    assert len(images) == 9
    assert all(browser.execute_script("return arguments[0].complete && "
                                      "arguments[0].naturalWidth > 0", im) for im in images)
    captions = [c.text for c in browser.find_elements(By.CSS_SELECTOR, "#cards figcaption")]
    assert f"dots/{evil}" in captions
    assert sorted(shown_cards(browser)) == sorted([f"Cluster {XSS_LABEL}", "Cluster dots"])
    assert console_errors(browser) == []


def test_a_page_of_100k_items_opens_quickly(browser, tmp_path):
    rng = np.random.default_rng(0)
    n = 100_000
    labels = rng.integers(0, 8000, n)
    labels[rng.random(n) < 0.05] = -1
    texts = [f"t{v % 97} w{v % 13} n{i % 50}" for i, v in enumerate(labels)]
    page = tmp_path / "big.html"
    cluster_page(texts, labels, embeddings=rng.normal(size=(n, 16)).astype(np.float32),
                 out=page, map_method="pca")
    seconds = open_page(browser, page)
    assert seconds < 10, seconds
    assert len(shown_cards(browser)) == 50
    assert browser.find_element(By.ID, "page").text == "page 1 of 40"  # 2,000 cards listed
    notes = browser.find_element(By.ID, "notes").text
    assert "The 2,000 largest of" in notes and "sample of 5,000 of the 100,000 items" in notes
    t0 = time.perf_counter()
    set_filter(browser, "w7")
    assert time.perf_counter() - t0 < 5 and 0 < len(shown_cards(browser)) <= 50
    assert console_errors(browser) == []


def _screenshot(driver, name: str) -> None:
    """The whole page as a PNG artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(int(height) + 120, 8000))
    driver.execute_script("window.scrollTo(0, 0)")
    png = driver.get_screenshot_as_png()
    assert png.startswith(b"\x89PNG")
    tmp = ARTIFACTS / f".{name}.part"
    tmp.write_bytes(png)
    os.replace(tmp, ARTIFACTS / name)  # a reader never sees half a picture
    driver.set_window_size(1280, 1000)
