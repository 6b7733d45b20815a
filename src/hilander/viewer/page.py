"""The HTML of a cluster page: one file, no request to anything outside it.

The data goes in a ``<script type="application/json">`` block with ``<``, ``>`` and ``&``
written as JSON escapes, so no text can close the block; the page's script renders it with
``textContent``. A Content-Security-Policy allows only this page's own script and style (by
their hashes) and ``data:`` images: even markup that slipped through could neither run nor
load anything.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from importlib import resources


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _hash(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def data_json(data: dict) -> str:
    """``data`` as JSON that is safe inside a script block: no ``<``, ``>`` or ``&``."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render(data: dict) -> str:
    """The page of ``data`` (built by :func:`hilander.viewer.summary.page_data`)."""
    from .. import __version__

    script, style = _asset("page.js"), _asset("page.css")
    for source in (script, style):
        assert "</" not in source, "a page asset may not hold '</'"
    policy = (f"default-src 'none'; script-src {_hash(script)}; style-src {_hash(style)}; "
              "img-src data:; base-uri 'none'; form-action 'none'")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{policy}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="hilander {__version__}">
<title>{html.escape(data["title"])}</title>
<link rel="icon" href="data:,">
<style>{style}</style>
</head>
<body>
<main>
<header>
<h1 id="title"></h1>
<p id="summary"></p>
<ul id="notes"></ul>
</header>
<div id="overview">
<section id="metrics-section" hidden>
<h2>Against the true labels</h2>
<p class="hint">Every item counts; noise (-1) counts as singletons. Each card gives its
cluster's purity (share of its labeled items in its majority class) and that class.</p>
<table id="metrics"></table>
</section>
<section id="map-section" hidden>
<h2>Map</h2>
<p id="map-note"></p>
<div id="map-wrap"><canvas id="map"></canvas><div id="tip" hidden></div></div>
</section>
</div>
<section>
<h2>Clusters, largest first</h2>
<p class="hint">Each card shows a cluster's most central items (nearest its mean direction)
and, for texts, its most distinctive words (class-based TF-IDF).</p>
<div id="controls">
<input id="filter" type="search" placeholder="filter: words, texts, labels; #12 for cluster 12"
 aria-label="filter clusters" autocomplete="off">
<span id="count"></span>
<button id="prev" type="button">&lsaquo; previous</button>
<span id="page"></span>
<button id="next" type="button">next &rsaquo;</button>
</div>
<div id="cards"></div>
</section>
<section>
<details id="singletons-box"><summary></summary></details>
<details id="noise-box"><summary></summary></details>
</section>
<footer>Written by hilander {__version__}: a self-contained page that loads nothing from
the network.</footer>
</main>
<script type="application/json" id="hl-data">{data_json(data)}</script>
<script>{script}</script>
</body>
</html>
"""
