// hilander cluster page: draws the JSON in #hl-data. Every user string goes through
// textContent (never innerHTML), so a text holding markup shows as text and runs nothing.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("hl-data").textContent);
  var PER_PAGE = 50;
  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#17becf", "#bcbd22", "#3b5bdb", "#f59f00", "#0ca678", "#c2255c", "#7048e8", "#e8590c",
    "#1098ad", "#74b816", "#ae3ec9", "#5c940d", "#d9480f"];
  var GREY = "#c5cad3", FADED = "#e6e9ee";

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function fmt(n) { return Number(n).toLocaleString("en-US"); }
  function color(card) { return card >= 0 ? PALETTE[card % PALETTE.length] : GREY; }
  function plural(n, one, many) { return fmt(n) + " " + (n === 1 ? one : many); }

  // -- header -------------------------------------------------------------------------------
  document.getElementById("title").textContent = data.title;
  var summary = document.getElementById("summary");
  [["b", fmt(data.n_items)], [null, " items \u00b7 "],
   ["b", fmt(data.n_clusters)], [null, " clusters of two or more (largest " +
     fmt(data.largest) + ") \u00b7 "],
   ["b", fmt(data.n_singletons)], [null, " singletons \u00b7 "],
   ["b", fmt(data.n_noise)], [null, " noise (label -1)"]].forEach(function (part) {
    summary.appendChild(part[0] ? el(part[0], null, part[1]) : document.createTextNode(part[1]));
  });
  var notes = document.getElementById("notes");
  data.notes.forEach(function (note) { notes.appendChild(el("li", null, note)); });

  if (data.metrics) {
    var table = document.getElementById("metrics");
    data.metrics.forEach(function (row) {
      var tr = el("tr");
      var value = row[2] ? fmt(row[1]) : Number(row[1]).toFixed(3);
      tr.appendChild(el("td", null, row[0]));
      tr.appendChild(el("td", null, value));
      table.appendChild(tr);
    });
    document.getElementById("metrics-section").hidden = false;
  }

  // -- items --------------------------------------------------------------------------------
  function thumb(item) {
    var fig = el("figure"), img = el("img");
    var src = data.thumbs[item.img];
    if (typeof src === "string" && src.indexOf("data:image/") === 0) { img.src = src; }
    img.alt = item.n !== undefined ? item.n : "item " + item.i;
    img.title = (item.n !== undefined ? item.n + " " : "") + "#" + item.i;
    fig.appendChild(img);
    if (item.n !== undefined) { fig.appendChild(el("figcaption", null, item.n)); }
    return fig;
  }
  function textItem(item, prefix) {
    var li = el("li", null, (prefix || "") + item.t);
    if (item.n !== undefined) { li.appendChild(el("span", "idx", item.n)); }
    li.appendChild(el("span", "idx", "#" + item.i));
    return li;
  }
  function itemList(list, withCluster) {
    if (data.kind === "text") {
      var ol = el("ol", "texts");
      list.forEach(function (item) {
        ol.appendChild(textItem(item, withCluster && item.c !== undefined ?
          "[" + item.c + "] " : ""));
      });
      return ol;
    }
    var box = el("div", "thumbs");
    list.forEach(function (item) { box.appendChild(thumb(item)); });
    return box;
  }

  // -- cards --------------------------------------------------------------------------------
  var cards = data.cards;
  cards.forEach(function (card, rank) {
    var hay = ["cluster " + card.id, card.majority || ""];
    card.words.forEach(function (w) { hay.push(w[0]); });
    card.items.forEach(function (item) { hay.push(item.t || ""); hay.push(item.n || ""); });
    card.hay = hay.join("\n").toLowerCase();
    card.rank = rank;
  });

  function buildCard(card) {
    var box = el("article", "card");
    box.dataset.id = card.id;
    var head = el("div", "card-head");
    var swatch = el("span", "swatch");
    swatch.style.background = color(card.rank);
    head.appendChild(swatch);
    head.appendChild(el("h3", null, "Cluster " + card.id));
    head.appendChild(el("span", "size", plural(card.size, "item", "items") + " \u00b7 " +
      (100 * card.size / data.n_items).toFixed(1) + "%"));
    box.appendChild(head);
    if (card.majority !== undefined) {
      var p = el("p", "purity");
      if (card.majority === null) {
        p.textContent = "no labeled item";
      } else {
        p.appendChild(document.createTextNode("purity "));
        p.appendChild(el("span", "pure", Number(card.purity).toFixed(2)));
        p.appendChild(document.createTextNode(" \u00b7 majority: " + card.majority + " (" +
          fmt(card.majority_count) + ")"));
      }
      box.appendChild(p);
    }
    if (card.words.length) {
      var words = el("p", "words");
      card.words.forEach(function (w) {
        var chip = el("span", "word", w[0]);
        chip.title = "c-TF-IDF " + w[1];
        words.appendChild(chip);
      });
      box.appendChild(words);
    }
    box.appendChild(itemList(card.items, false));
    if (card.size > card.items.length) {
      box.appendChild(el("p", "more", "the " + card.items.length + " most central of " +
        fmt(card.size)));
    }
    return box;
  }

  var filterBox = document.getElementById("filter");
  var cardsBox = document.getElementById("cards");
  var state = { matches: cards, page: 0, query: "" };

  // "#12": the cluster whose label is 12; otherwise every word must occur in the card
  function matches(card, query, terms) {
    if (query.charAt(0) === "#" && query.length > 1) {
      return card.id.toLowerCase() === query.slice(1);
    }
    return terms.every(function (term) { return card.hay.indexOf(term) >= 0; });
  }

  function applyFilter() {
    var query = filterBox.value.trim().toLowerCase();
    var terms = query.split(/\s+/).filter(Boolean);
    state.query = query;
    state.matches = terms.length ?
      cards.filter(function (c) { return matches(c, query, terms); }) : cards;
    state.page = 0;
    render();
    drawMap();
  }

  function render() {
    var pages = Math.max(1, Math.ceil(state.matches.length / PER_PAGE));
    state.page = Math.min(state.page, pages - 1);
    cardsBox.replaceChildren();
    var shown = state.matches.slice(state.page * PER_PAGE, (state.page + 1) * PER_PAGE);
    shown.forEach(function (card) { cardsBox.appendChild(buildCard(card)); });
    if (!shown.length) {
      cardsBox.appendChild(el("p", null, cards.length ? "No cluster matches the filter." :
        "No cluster of two or more items."));
      cardsBox.lastChild.id = "empty";
    }
    document.getElementById("count").textContent = (state.query ?
      fmt(state.matches.length) + " of " : "") + plural(cards.length, "cluster", "clusters");
    document.getElementById("page").textContent = "page " + (state.page + 1) + " of " + pages;
    document.getElementById("prev").disabled = state.page === 0;
    document.getElementById("next").disabled = state.page >= pages - 1;
  }

  filterBox.addEventListener("input", applyFilter);
  document.getElementById("prev").addEventListener("click", function () {
    state.page -= 1; render();
  });
  document.getElementById("next").addEventListener("click", function () {
    state.page += 1; render();
  });

  // -- singletons and noise -----------------------------------------------------------------
  function rest(id, count, list, label) {
    var box = document.getElementById(id);
    box.querySelector("summary").textContent = label + (list.length < count ?
      " (the first " + list.length + " shown)" : "");
    if (list.length) { box.appendChild(itemList(list, true)); }
  }
  rest("singletons-box", data.n_singletons, data.singletons,
    plural(data.n_singletons, "singleton", "singletons") + " (clusters of one item)");
  rest("noise-box", data.n_noise, data.noise,
    plural(data.n_noise, "item", "items") + " labeled noise (-1)");

  // -- the map ------------------------------------------------------------------------------
  var map = data.map;
  var canvas = document.getElementById("map");
  var tip = document.getElementById("tip");
  var view = null;  // [left, top, side] of the unit square, in CSS pixels

  function drawMap() {
    if (!map) { return; }
    var width = canvas.parentNode.clientWidth;
    var height = Math.round(Math.min(520, Math.max(300, width * 0.5)));
    var ratio = window.devicePixelRatio || 1;
    canvas.style.height = height + "px";
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    var pad = 14, side = Math.min(width, height) - 2 * pad;
    view = [(width - side) / 2, (height - side) / 2, side];
    canvas.dataset.transform = JSON.stringify(view);
    var ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    var chosen = null;
    if (state.query) {
      chosen = {};
      state.matches.forEach(function (c) { chosen[c.rank] = true; });
    }
    // grey first (noise, unlisted clusters, filtered out), coloured clusters on top
    for (var pass = 0; pass < 2; pass++) {
      for (var i = 0; i < map.n; i++) {
        var card = map.card[i];
        var on = card >= 0 && (!chosen || chosen[card]);
        if (on !== (pass === 1)) { continue; }
        ctx.fillStyle = on ? color(card) : (card >= 0 ? FADED : GREY);
        ctx.beginPath();
        ctx.arc(view[0] + map.x[i] * side, view[1] + (1 - map.y[i]) * side,
          on ? 2.6 : 1.8, 0, 2 * Math.PI);
        ctx.fill();
      }
    }
  }

  function nearest(event) {
    var box = canvas.getBoundingClientRect();
    var mx = event.clientX - box.left, my = event.clientY - box.top;
    var best = -1, bestD = 64;  // within 8 px
    for (var i = 0; i < map.n; i++) {
      var dx = view[0] + map.x[i] * view[2] - mx, dy = view[1] + (1 - map.y[i]) * view[2] - my;
      var d = dx * dx + dy * dy;
      if (d < bestD) { bestD = d; best = i; }
    }
    return { index: best, x: mx, y: my };
  }

  if (map) {
    document.getElementById("map-section").hidden = false;
    document.getElementById("map-note").textContent = (map.method === "tsne" ? "t-SNE" :
      "PCA") + " of the l2-normalised embeddings, " + plural(map.n, "point", "points") +
      "; colours match the cards (grey: noise, singletons and clusters not listed). Hover a " +
      "point to see its item; click it to show its cluster's card.";
    drawMap();
    canvas.addEventListener("mousemove", function (event) {
      var hit = nearest(event);
      if (hit.index < 0) { tip.hidden = true; return; }
      var i = hit.index, card = map.card[i];
      tip.replaceChildren();
      var head = map.card[i] === -1 ? "noise (-1)" : "cluster " + map.cluster[i] +
        (card >= 0 ? " \u00b7 " + plural(cards[card].size, "item", "items") : "");
      tip.appendChild(el("div", "tip-cluster", head));
      tip.appendChild(el("div", "tip-text", map.text[i]));
      tip.hidden = false;
      var left = Math.min(hit.x + 14, canvas.clientWidth - tip.offsetWidth - 4);
      tip.style.left = Math.max(4, left) + "px";
      tip.style.top = (hit.y + 14) + "px";
    });
    canvas.addEventListener("mouseleave", function () { tip.hidden = true; });
    canvas.addEventListener("click", function (event) {
      var hit = nearest(event);
      if (hit.index < 0 || map.card[hit.index] < 0) { return; }
      filterBox.value = "#" + map.cluster[hit.index];
      applyFilter();
      cardsBox.scrollIntoView();
    });
    var resizeTimer = null;
    window.addEventListener("resize", function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(drawMap, 100);
    });
  }
  render();
  document.body.dataset.ready = "1";
}());
