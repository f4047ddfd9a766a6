// mmvideo report: renders window.MMVIDEO_REPORT (written by `mmvideo report` into data-<hash>.js).
// Plain JavaScript, no build step. All text goes in with textContent / setAttribute, never innerHTML.
// Filters work over the data array; only the visible page of videos (and of each video's segments) is in the DOM.
(function () {
  "use strict";
  var D = window.MMVIDEO_REPORT;
  var VIDEOS_PER_PAGE = 20;
  var SEGMENTS_SHOWN = 60; // per video, before a "show more" button
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
  function score(x) { return (x === null || x === undefined) ? "" : x.toFixed(2); }
  function classesText(title, items) {
    if (!items || !items.length) return title + ": none";
    return title + ": " + items.map(function (c) { return c[0] + " " + score(c[1]); }).join(", ");
  }

  // --- filtering (over the data, never the DOM) ------------------------------------------------------
  function hay(seg) {
    if (seg._h === undefined) {
      seg._h = (seg.x + "\n" + seg.t.map(function (t) { return D.labels[t[0]]; }).join("\n")).toLowerCase();
    }
    return seg._h;
  }
  function segMatches(seg, tagIx, q) {
    if (tagIx >= 0 && !seg.t.some(function (t) { return t[0] === tagIx; })) return false;
    return !q || hay(seg).indexOf(q) >= 0;
  }
  function filtered() {
    var tagIx = state.tag ? D.labels.indexOf(state.tag) : -1;
    var q = state.q.trim().toLowerCase();
    var narrowing = !!(state.tag || q);
    var out = [];
    for (var i = 0; i < D.videos.length; i++) {
      var v = D.videos[i];
      if (state.status && v.s !== state.status) continue;
      if (!narrowing) { out.push({ v: v, segs: v.segs }); continue; }
      if (state.tag && tagIx < 0) continue;
      var segs = v.segs.filter(function (s) { return segMatches(s, tagIx, q); });
      if (segs.length) out.push({ v: v, segs: segs });
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
  function attentionBar(weights) {
    var bar = el("span", "att");
    var parts = [];
    for (var i = 0; i < D.modalities.length; i++) {
      var w = weights[i] || 0;
      parts.push(D.modalities[i] + " " + score(w));
      if (w <= 0) continue;
      var s = el("span");
      s.style.width = (100 * w).toFixed(1) + "%";
      s.style.background = COLOURS[i % COLOURS.length];
      bar.appendChild(s);
    }
    bar.setAttribute("title", "how much each modality counted: " + parts.join(", "));
    return bar;
  }
  function tagChip(label, text, weights) {
    var chip = el("span", "chip" + (label === state.tag ? " on" : ""));
    chip.setAttribute("data-tag", label);
    var row = el("span", "row");
    row.appendChild(el("span", "lb", label));
    if (text !== null) row.appendChild(el("span", "sc", text));
    chip.appendChild(row);
    if (weights) chip.appendChild(attentionBar(weights));
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
  function segmentCard(v, seg) {
    var card = el("div", "seg");
    card.setAttribute("data-video", v.i);
    card.setAttribute("data-seg", String(seg.k));
    card.setAttribute("tabindex", "0");
    card.setAttribute("title", "segment " + seg.k + " (" + fmtTime(seg.a) + "–" + fmtTime(seg.b) + ")\n" +
      classesText("image classes", seg.ic) + "\n" + classesText("audio classes", seg.ac) +
      "\nmodalities: " + (seg.m.join(", ") || "none") + (seg.f !== null && seg.f !== undefined ? "\nfaces: " + seg.f : ""));
    var th = el("div", "thumb");
    if (seg.th) {
      var img = el("img");
      img.setAttribute("loading", "lazy");
      img.setAttribute("alt", "");
      img.setAttribute("src", seg.th);
      th.appendChild(img);
    } else {
      th.appendChild(el("span", "ph", "no picture"));
    }
    th.appendChild(el("span", "time", fmtTime(seg.a) + "–" + fmtTime(seg.b)));
    card.appendChild(th);
    var chips = el("div", "chips");
    seg.t.forEach(function (t) { chips.appendChild(tagChip(D.labels[t[0]], score(t[1]), t[2])); });
    card.appendChild(chips);
    if (!seg.t.length) card.appendChild(el("div", "none", "no tag above the threshold"));
    if (seg.x) card.appendChild(el("div", "text", seg.x));
    return card;
  }
  function timelineBar(v, shown, narrowing) {
    var bar = el("div", "bar");
    var total = v.d || (v.segs.length ? v.segs[v.segs.length - 1].b : 0) || 1;
    var hits = {};
    shown.forEach(function (s) { hits[s.k] = true; });
    v.segs.forEach(function (s) {
      var b = el("span", narrowing && hits[s.k] ? "hit" : "");
      b.style.left = (100 * s.a / total).toFixed(2) + "%";
      b.style.width = (100 * Math.max(0, s.b - s.a) / total).toFixed(2) + "%";
      bar.appendChild(b);
    });
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
    facts.push(v.segs.length + " segments" + (item.segs.length !== v.segs.length ? ", " + item.segs.length + " match" : ""));
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
    if (!v.segs.length) return box;
    box.appendChild(timelineBar(v, item.segs, item.segs !== v.segs));
    var row = el("div", "segs");
    var n = Math.min(item.segs.length, SEGMENTS_SHOWN);
    for (var i = 0; i < n; i++) row.appendChild(segmentCard(v, item.segs[i]));
    box.appendChild(row);
    if (item.segs.length > n) {
      var more = el("button", "more", "show all " + item.segs.length + " segments");
      more.addEventListener("click", function () {
        for (var j = n; j < item.segs.length; j++) row.appendChild(segmentCard(v, item.segs[j]));
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
    var counts = {};
    D.videos.forEach(function (v) { v.segs.forEach(function (s) { s.t.forEach(function (t) { counts[t[0]] = (counts[t[0]] || 0) + 1; }); }); });
    var tagSel = $("tag");
    tagSel.appendChild(new Option("all tags", ""));
    D.labels.forEach(function (lb, i) { tagSel.appendChild(new Option(lb + " (" + (counts[i] || 0) + ")", lb)); });
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
    items.forEach(function (it) { nseg += it.segs.length; });
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
  function play(v, seg) {
    var box = $("player"), video = $("video"), msg = $("msg");
    box.hidden = false;
    $("ptitle").textContent = v.n + "  " + fmtTime(seg.a) + "–" + fmtTime(seg.b);
    msg.textContent = "";
    if (!v.u) { video.removeAttribute("src"); msg.textContent = "the source path is not known: " + v.p; return; }
    video.setAttribute("src", v.u + "#t=" + seg.a);
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
      var v = byId[card.getAttribute("data-video")], k = parseInt(card.getAttribute("data-seg"), 10);
      var seg = v.segs.filter(function (s) { return s.k === k; })[0];
      if (seg) play(v, seg);
    });
    $("summary").addEventListener("click", function (ev) {
      var chip = ev.target.closest(".chip");
      if (chip) setFilter({ tag: chip.getAttribute("data-tag") });
    });
  }

  function start() {
    window.mmvideoReport = { renders: 0 };
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
