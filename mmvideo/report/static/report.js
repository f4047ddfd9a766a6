// mmvideo report: renders window.MMVIDEO_REPORT (written by `mmvideo report` into data-<hash>.js).
// Plain JavaScript, no build step. All text goes in with textContent / setAttribute, never innerHTML.
// Segments are columns (D.seg): video v owns rows v.s0 .. v.s0 + v.sn; row r's tags are tl/ts/ta[to[r] .. to[r+1]].
// Filters loop over those arrays; only the visible page of videos (and of each video's segments) is in the DOM.
(function () {
  "use strict";
  var D = window.MMVIDEO_REPORT;
  var S = D ? D.seg : null;
  var VIDEOS_PER_PAGE = 10;
  var SEGMENTS_SHOWN = 30; // per video, before a "show all" button
  var COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948", "#9c755f"];
  var state = { tag: "", q: "", status: "", page: 0 };
  var renders = 0;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function $(id) { return document.getElementById(id); }
  function fmtTime(s) {
    if (s === null || s === undefined) return "?";
    var m = Math.floor(s / 60), r = s - 60 * m;
    return m + ":" + (r < 10 ? "0" : "") + r.toFixed(1);
  }
  function fmtDuration(s) {
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = Math.round(s % 60);
    return (h ? h + " h " : "") + (h || m ? m + " min " : "") + r + " s";
  }
  function score(x) { return (x === null || x === undefined) ? "" : (x / D.scale).toFixed(2); }
  function classesText(title, off, names, scores, r) {
    var parts = [];
    for (var j = off[r]; j < off[r + 1]; j++) parts.push(D.classes[names[j]] + " " + score(scores[j]));
    return title + ": " + (parts.join(", ") || "none");
  }
  function rowsOf(v) {
    var rows = new Array(v.sn);
    for (var j = 0; j < v.sn; j++) rows[j] = v.s0 + j;
    return rows;
  }

  // --- filtering (over the data, never the DOM) ------------------------------------------------------
  var HAY = null; // per row: text and tag labels, lower case (built on the first text query)
  function hay(r) {
    if (HAY === null) HAY = new Array(S.k.length);
    if (HAY[r] === undefined) {
      var parts = [S.x[r]];
      for (var j = S.to[r]; j < S.to[r + 1]; j++) parts.push(D.labels[S.tl[j]]);
      HAY[r] = parts.join("\n").toLowerCase();
    }
    return HAY[r];
  }
  function segMatches(r, tagIx, q) {
    if (tagIx >= 0) {
      var found = false;
      for (var j = S.to[r]; j < S.to[r + 1]; j++) if (S.tl[j] === tagIx) { found = true; break; }
      if (!found) return false;
    }
    return !q || hay(r).indexOf(q) >= 0;
  }
  function filtered() {
    var tagIx = state.tag ? D.labels.indexOf(state.tag) : -1;
    var q = state.q.trim().toLowerCase();
    var narrowing = !!(state.tag || q);
    var out = [];
    for (var i = 0; i < D.videos.length; i++) {
      var v = D.videos[i];
      if (state.status && v.s !== state.status) continue;
      if (!narrowing) { out.push({ v: v, rows: null, n: v.sn }); continue; }
      if (state.tag && tagIx < 0) continue;
      var rows = [];
      for (var r = v.s0; r < v.s0 + v.sn; r++) if (segMatches(r, tagIx, q)) rows.push(r);
      if (rows.length) out.push({ v: v, rows: rows, n: rows.length });
    }
    return out;
  }

  // --- state in the URL hash (#tag=cat&q=rocket&status=done&page=2) ----------------------------------
  function readHash() {
    var p = new URLSearchParams(location.hash.replace(/^#/, ""));
    state.tag = p.get("tag") || "";
    state.q = p.get("q") || "";
    state.status = p.get("status") || "";
    state.page = Math.max(0, (parseInt(p.get("page") || "1", 10) || 1) - 1);
  }
  function writeHash() {
    var p = new URLSearchParams();
    if (state.tag) p.set("tag", state.tag);
    if (state.q) p.set("q", state.q);
    if (state.status) p.set("status", state.status);
    if (state.page) p.set("page", String(state.page + 1));
    var h = p.toString();
    try { history.replaceState(null, "", h ? "#" + h : location.pathname + location.search); } catch (e) { /* file:// quirks */ }
  }
  function setFilter(changes) {
    for (var k in changes) state[k] = changes[k];
    if (!("page" in changes)) state.page = 0;
    syncControls();
    writeHash();
    render();
  }

  // --- pieces ---------------------------------------------------------------------------------------
  function attentionBar(j) {
    var bar = el("span", "att");
    var parts = [], n = D.modalities.length;
    for (var i = 0; i < n; i++) {
      var w = S.ta[j * n + i] || 0;
      parts.push(D.modalities[i] + " " + score(w));
      if (w <= 0) continue;
      var s = el("span");
      s.style.width = (100 * w / D.scale).toFixed(1) + "%";
      s.style.background = COLOURS[i % COLOURS.length];
      bar.appendChild(s);
    }
    bar.setAttribute("title", "how much each modality counted: " + parts.join(", "));
    return bar;
  }
  function tagChip(label, text, tagRow) {
    var chip = el("span", "chip" + (tagRow === null || tagRow === undefined ? " plain" : "") + (label === state.tag ? " on" : ""));
    chip.setAttribute("data-tag", label);
    var row = el("span", "row");
    row.appendChild(el("span", "lb", label));
    if (text !== null) row.appendChild(el("span", "sc", text));
    chip.appendChild(row);
    if (tagRow !== null && tagRow !== undefined) chip.appendChild(attentionBar(tagRow));
    return chip;
  }
  function legend() {
    var box = el("span", "legend");
    box.appendChild(el("span", null, "modality weight:"));
    D.modalities.forEach(function (m, i) {
      var item = el("span");
      var sw = el("i");
      sw.style.background = COLOURS[i % COLOURS.length];
      item.appendChild(sw);
      item.appendChild(document.createTextNode(m));
      box.appendChild(item);
    });
    return box;
  }
  function present(r) {
    var names = [];
    for (var i = 0; i < D.present.length; i++) if (S.m[r] & (1 << i)) names.push(D.present[i]);
    return names.join(", ") || "none";
  }
  function segmentCard(v, r) {
    var k = S.k[r], a = S.a[r], b = S.b[r];
    var card = el("div", "seg");
    card.setAttribute("data-video", v.i);
    card.setAttribute("data-seg", String(k));
    card.setAttribute("data-row", String(r));
    card.setAttribute("tabindex", "0");
    card.setAttribute("title", "segment " + k + " (" + fmtTime(a) + "–" + fmtTime(b) + ")\n" +
      classesText("image classes", S.io, S.in, S.is, r) + "\n" + classesText("audio classes", S.uo, S.un, S.us, r) +
      "\nmodalities: " + present(r) + (S.f[r] !== null && S.f[r] !== undefined ? "\nfaces: " + S.f[r] : ""));
    var th = el("div", "thumb");
    var base = S.th[r] === 1 ? v.tb : S.th[r] === 2 ? v.rb : null;
    if (base) {
      var img = el("img");
      img.setAttribute("loading", "lazy");
      img.setAttribute("alt", "");
      img.setAttribute("src", base + k + ".jpg");
      th.appendChild(img);
    } else {
      th.appendChild(el("span", "ph", "no picture"));
    }
    th.appendChild(el("span", "time", fmtTime(a) + "–" + fmtTime(b)));
    card.appendChild(th);
    var chips = el("div", "chips");
    for (var j = S.to[r]; j < S.to[r + 1]; j++) chips.appendChild(tagChip(D.labels[S.tl[j]], score(S.ts[j]), j));
    card.appendChild(chips);
    if (S.to[r] === S.to[r + 1]) card.appendChild(el("div", "none", "no tag above the threshold"));
    if (S.x[r]) card.appendChild(el("div", "text", S.x[r]));
    return card;
  }
  function timelineBar(v, rows) {
    var bar = el("div", "bar");
    var last = v.s0 + v.sn - 1;
    var total = v.d || (v.sn ? S.b[last] : 0) || 1;
    var hits = {};
    if (rows) rows.forEach(function (r) { hits[r] = true; });
    for (var r = v.s0; r <= last; r++) {
      var b = el("span", rows && hits[r] ? "hit" : "");
      b.style.left = (100 * S.a[r] / total).toFixed(2) + "%";
      b.style.width = (100 * Math.max(0, S.b[r] - S.a[r]) / total).toFixed(2) + "%";
      bar.appendChild(b);
    }
    return bar;
  }
  function timeline(item) {
    var v = item.v;
    var box = el("section", "box timeline");
    box.setAttribute("data-video", v.i);
    var head = el("div", "vhead");
    var h = el("h2", null, v.n);
    h.setAttribute("title", v.p);
    h.appendChild(el("span", "badge " + v.s, v.s));
    head.appendChild(h);
    var facts = [];
    if (v.d !== null) facts.push(fmtTime(v.d));
    if (v.c) facts.push(v.c.split(",")[0]);
    facts.push(v.sn + (v.sn === 1 ? " segment" : " segments") + (item.rows ? ", " + item.n + " match" : ""));
    head.appendChild(el("span", "mute", facts.join(" · ")));
    box.appendChild(head);
    box.appendChild(el("div", "mute path", v.p));
    if (v.e || v.s !== "done") {
      box.appendChild(el("div", "err", (v.g ? "[" + v.g + "] " : "") + (v.e || v.s)));
    }
    if (v.w && v.w.length) box.appendChild(el("div", "mute", "warnings: " + v.w.join("; ")));
    if (v.t && v.t.length) {
      var top = el("div", "top");
      v.t.slice(0, 12).forEach(function (lb) { top.appendChild(tagChip(lb, null, null)); });
      box.appendChild(top);
    }
    if (!v.sn) return box;
    box.appendChild(timelineBar(v, item.rows));
    var rows = item.rows || rowsOf(v);
    var row = el("div", "segs");
    var n = Math.min(rows.length, SEGMENTS_SHOWN);
    for (var i = 0; i < n; i++) row.appendChild(segmentCard(v, rows[i]));
    box.appendChild(row);
    if (rows.length > n) {
      var more = el("button", "more", "show all " + rows.length + " segments");
      more.addEventListener("click", function () {
        for (var j = n; j < rows.length; j++) row.appendChild(segmentCard(v, rows[j]));
        more.remove();
      });
      box.appendChild(more);
    }
    return box;
  }

  // --- summary, controls, list ----------------------------------------------------------------------
  function renderSummary() {
    var S = D.summary, box = $("summary");
    var stats = el("div", "stats");
    function stat(n, label) { var s = el("div", "stat"); s.appendChild(el("b", null, n)); s.appendChild(el("span", "mute", label)); stats.appendChild(s); }
    stat(S.videos, "videos");
    Object.keys(S.statuses).forEach(function (k) { stat(S.statuses[k], k); });
    stat(fmtDuration(S.duration), "of video done");
    stat(S.segments, "segments");
    box.appendChild(stats);
    if (S.top.length) {
      box.appendChild(el("div", "mute", "Most frequent tags (seconds covered, videos):"));
      var tags = el("div", "toptags");
      S.top.forEach(function (t) { tags.appendChild(tagChip(t[0], Math.round(t[1]) + " s · " + t[2], null)); });
      box.appendChild(tags);
    }
    if (S.problems.length) {
      var det = el("details");
      if (S.problems.length <= 10) det.setAttribute("open", "");
      det.appendChild(el("summary", null, S.problems.length + " not done (failed, duplicate, ...) with causes"));
      var table = el("table", "problems");
      S.problems.slice(0, 500).forEach(function (p) {
        var tr = el("tr");
        tr.appendChild(el("td", null, p.s));
        tr.appendChild(el("td", null, p.p));
        tr.appendChild(el("td", "err", (p.g ? "[" + p.g + "] " : "") + (p.e || "")));
        table.appendChild(tr);
      });
      det.appendChild(table);
      if (S.problems.length > 500) det.appendChild(el("div", "mute", "… and " + (S.problems.length - 500) + " more (filter by status below)"));
      box.appendChild(det);
    }
  }
  function renderControls() {
    var counts = new Array(D.labels.length).fill(0);
    for (var j = 0; j < S.tl.length; j++) counts[S.tl[j]] += 1;
    var tagSel = $("tag");
    tagSel.appendChild(new Option("all tags", ""));
    D.labels.forEach(function (lb, i) { tagSel.appendChild(new Option(lb + " (" + counts[i] + ")", lb)); });
    var stSel = $("status");
    stSel.appendChild(new Option("any status", ""));
    Object.keys(D.summary.statuses).forEach(function (k) { stSel.appendChild(new Option(k + " (" + D.summary.statuses[k] + ")", k)); });
    $("legend").appendChild(legend());
    tagSel.addEventListener("change", function () { setFilter({ tag: tagSel.value }); });
    stSel.addEventListener("change", function () { setFilter({ status: stSel.value }); });
    var timer = null;
    $("q").addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { setFilter({ q: $("q").value }); }, 120);
    });
    $("clear").addEventListener("click", function () { setFilter({ tag: "", q: "", status: "" }); });
  }
  function syncControls() {
    if (state.tag && D.labels.indexOf(state.tag) < 0 && !$("tag").querySelector("option[data-extra]")) {
      var o = new Option(state.tag + " (0)", state.tag);
      o.setAttribute("data-extra", "1");
      $("tag").appendChild(o);
    }
    $("tag").value = state.tag;
    $("status").value = state.status;
    if ($("q").value !== state.q) $("q").value = state.q;
  }
  function pager(total, pages) {
    var box = el("div", "pager");
    var prev = el("button", null, "‹ previous"), next = el("button", null, "next ›");
    prev.disabled = state.page <= 0;
    next.disabled = state.page >= pages - 1;
    prev.addEventListener("click", function () { setFilter({ page: state.page - 1 }); window.scrollTo(0, $("list").offsetTop - 60); });
    next.addEventListener("click", function () { setFilter({ page: state.page + 1 }); window.scrollTo(0, $("list").offsetTop - 60); });
    box.appendChild(prev);
    box.appendChild(el("span", "mute", "page " + (state.page + 1) + " of " + pages + " (" + total + " videos)"));
    box.appendChild(next);
    return box;
  }
  function render() {
    var items = filtered();
    var pages = Math.max(1, Math.ceil(items.length / VIDEOS_PER_PAGE));
    if (state.page >= pages) state.page = pages - 1;
    var shown = items.slice(state.page * VIDEOS_PER_PAGE, (state.page + 1) * VIDEOS_PER_PAGE);
    var nseg = 0;
    items.forEach(function (it) { nseg += it.n; });
    var list = $("list");
    var frag = document.createDocumentFragment();
    frag.appendChild(el("div", "mute count", items.length + " videos, " + nseg + " segments" +
      (state.tag || state.q || state.status ? " match" : "")));
    if (!items.length) frag.appendChild(el("div", "box empty", "Nothing matches the filter."));
    shown.forEach(function (it) { frag.appendChild(timeline(it)); });
    if (pages > 1) frag.appendChild(pager(items.length, pages));
    list.replaceChildren(frag);
    renders += 1;
    var info = window.mmvideoReport;
    info.renders = renders;
    info.matchingVideos = items.length;
    info.matchingSegments = nseg;
    info.renderedAt = performance.now();
    document.body.setAttribute("data-render", String(renders));
    requestAnimationFrame(function () {
      setTimeout(function () { info.paintedAt = performance.now(); document.body.setAttribute("data-painted", String(renders)); }, 0);
    });
  }

  // --- player ---------------------------------------------------------------------------------------
  function play(v, r) {
    var box = $("player"), video = $("video"), msg = $("msg");
    box.hidden = false;
    $("ptitle").textContent = v.n + "  " + fmtTime(S.a[r]) + "–" + fmtTime(S.b[r]);
    msg.textContent = "";
    if (!v.u) { video.removeAttribute("src"); msg.textContent = "the source path is not known: " + v.p; return; }
    video.setAttribute("src", v.u + "#t=" + S.a[r]);
    var p = video.play();
    if (p && p.catch) p.catch(function () { /* reported by the error event or autoplay policy */ });
  }
  function wirePlayer() {
    var video = $("video");
    video.addEventListener("error", function () {
      $("msg").textContent = "cannot play this file from here (moved, not reachable from this page, or a format the browser does not play)";
    });
    $("pclose").addEventListener("click", function () { video.pause(); video.removeAttribute("src"); video.load(); $("player").hidden = true; });
    var byId = {};
    D.videos.forEach(function (v) { byId[v.i] = v; });
    $("list").addEventListener("click", function (ev) {
      var chip = ev.target.closest(".chip");
      if (chip) { setFilter({ tag: chip.getAttribute("data-tag") === state.tag ? "" : chip.getAttribute("data-tag") }); return; }
      var card = ev.target.closest(".seg");
      if (!card) return;
      play(byId[card.getAttribute("data-video")], parseInt(card.getAttribute("data-row"), 10));
    });
    $("summary").addEventListener("click", function (ev) {
      var chip = ev.target.closest(".chip");
      if (chip) setFilter({ tag: chip.getAttribute("data-tag") });
    });
  }

  function start() {
    window.mmvideoReport = { renders: 0, startedAt: performance.now() }; // data parsed, page script starts
    if (!D) { $("list").textContent = "The report data did not load: rebuild it with `mmvideo report`."; return; }
    $("out").textContent = D.out;
    renderSummary();
    renderControls();
    wirePlayer();
    readHash();
    syncControls();
    window.addEventListener("hashchange", function () { readHash(); syncControls(); render(); });
    window.mmvideoReport.setFilter = setFilter;
    render();
  }
  start();
})();
