"""The report's files: ``index.html`` (markup, inline CSS and JS) and the data file it loads as a script."""

from __future__ import annotations

import hashlib
import html
import json
from importlib import resources
from typing import Any

DATA_GLOBAL = "MMVIDEO_REPORT"

_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="mmvideo {version}">
<title>mmvideo report: {title}</title>
<style>
{css}
</style>
</head>
<body>
<header>
<h1>mmvideo report</h1>
<div class="mute"><span id="out"></span> · made {made}</div>
<section id="summary" class="box"></section>
</header>
<main>
<div class="controls">
<label>tag <select id="tag"></select></label>
<input id="q" type="search" placeholder="find segments by tag or text" aria-label="find segments by tag or text">
<label>status <select id="status"></select></label>
<button id="clear" type="button">clear</button>
<span id="legend"></span>
</div>
<div id="list"></div>
</main>
<div id="player" hidden>
<div class="top"><span id="ptitle"></span><button id="pclose" type="button">close</button></div>
<video id="video" controls preload="none"></video>
<div id="msg" class="msg"></div>
</div>
<script src="{data_file}"></script>
<script>
{js}
</script>
</body>
</html>
"""


def _asset(name: str) -> str:
    return resources.files("mmvideo.report").joinpath("static", name).read_text(encoding="utf-8")


def data_script(data: dict[str, Any]) -> tuple[str, bytes]:
    """(file name, bytes) of the data file: a script assigning the data to a global, named by its hash.

    A ``file://`` page cannot ``fetch`` JSON, but it can load a script; the hash in the name means an
    ``index.html`` always points at the data it was made with.
    """
    body = json.dumps(data, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    # JSON.parse of a string literal: V8 parses JSON several times faster than the same object literal
    content = f"window.{DATA_GLOBAL} = JSON.parse({json.dumps(body)});\n".encode("ascii")
    return f"data-{hashlib.sha256(content).hexdigest()[:12]}.js", content


def index_html(data_file: str, title: str, made: str, version: str) -> bytes:
    """The page: static markup; every value from the results is put in by the script as text."""
    js = _asset("report.js")
    if "</script" in js.lower():
        raise AssertionError("report.js must not contain a closing script tag")
    page = _TEMPLATE.format(version=html.escape(version), title=html.escape(title), made=html.escape(made),
                            css=_asset("report.css"), data_file=html.escape(data_file, quote=True), js=js)
    return page.encode("utf-8")
