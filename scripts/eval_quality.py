#!/usr/bin/env python3
"""Tag and search quality on ``../shared/eval`` per modality (image, audio, text alone, fused), from one run.

    mmvideo run ../shared/eval --out OUT --format both --evidence          # once (decodes every clip)
    python scripts/eval_quality.py OUT [--release REL] [--set k=v ...] [--exact]

Re-fuses OUT's evidence files in this process (nothing is decoded) once per variant: ``fused`` (default
settings), and ``image`` / ``audio`` / ``text`` (the other modalities masked out of fusion and of the concept
embeddings: ``TaggerSettings.mask``), writes each variant's rows (JSON Lines) under ``--work`` and scores them
with ``../shared/eval/score.py``'s own tag report; search is ranked in-process with ``mmvideo.search`` and
scored by score.py's rule (rank of the clip among videos, recall@1, MRR). ``--exact`` scores with score.py
itself (it calls ``mmvideo search`` per query: slower, the same figures). ``--release REL`` adds the figures of
an existing output folder as it is (e.g. one written by the previous release). Figures for all clips and each
half (``--half even``: 12 clips to tune on; ``odd``: 18 to check). ``--set name=value`` overrides a
``TaggerSettings`` field for every variant (tuning). Run it on an OUT made with ``--speech`` for text.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib.util
import io
import json
import re
import subprocess
import sys
from dataclasses import fields, replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EVAL = REPO.parent / "shared" / "eval"
HALVES = (None, "even", "odd")
VARIANTS = ("fused", "image", "audio", "text")


def load_score(path: Path):
    """score.py as a module (its tag report and half split are the labels' own)."""
    spec = importlib.util.spec_from_file_location("eval_score", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def parse_value(text: str):
    """A --set value: a number, a bool, a comma list (tuple), else the string."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text in ("true", "false"):
        return text == "true"
    if "," in text or text == "":
        return tuple(t for t in text.split(",") if t)
    return text


class Fuser:
    """The evidence of one output folder, fused again in-process with any ``TaggerSettings``."""

    def __init__(self, src: Path) -> None:
        from mmvideo.engines.fuse import config_from_evidence
        from mmvideo.pipeline.analyze import Pipeline
        from mmvideo.write.evidence import evidence_files, read_evidence

        self.evidence = [read_evidence(p) for p in evidence_files(src)]
        if not self.evidence:
            raise SystemExit(f"{src}: no evidence (run `mmvideo run ... --evidence`)")
        self.config = config_from_evidence(self.evidence[0].info.get("settings", {}), {"format": "jsonl"})
        self.pipeline = Pipeline(self.config)
        self.base = self.pipeline.models()
        self.text = self.base._encoder

    def write(self, dst: Path, settings) -> None:
        """Fuse every evidence file with ``settings`` into the output folder ``dst`` (JSON Lines)."""
        import shutil

        from mmvideo.fuse.tagger import ZeroShotTagger
        from mmvideo.write.writer import write_video

        shutil.rmtree(dst, ignore_errors=True)
        dst.mkdir(parents=True)
        self.pipeline._tagger = ZeroShotTagger(self.text, self.base.vocabulary, modalities=self.pipeline.modalities,
                                               settings=settings)
        for ev in self.evidence:
            analysis = self.pipeline.fuse_evidence(ev)
            write_video(dst, analysis.video, analysis.segments, ("jsonl",), schema=self.pipeline.segment_schema)


def tag_figures(score, out: Path, half: str | None) -> dict:
    """score.py's tag report of ``out`` as numbers."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        score.tags_report(str(out), False, half)
    text = buf.getvalue()
    m = re.search(r"hit@5 (\d+)/(\d+).*first tag right (\d+)/(\d+).*P@5 ([\d.]+), tags per tagged segment "
                  r"([\d.]+), untagged segments (\d+)", text)
    if not m:
        raise SystemExit(f"cannot read score.py's report: {text!r}")
    hit, n, first, nseg, p5, per, untagged = m.groups()
    return {"hit@5": f"{hit}/{n}", "first": f"{int(first) / int(nseg):.0%}", "P@5": float(p5),
            "tags/seg": float(per), "untagged": int(untagged)}


def query_ranks(score, out: Path, half: str | None, encoder, modality: str = "any") -> list[tuple[str, int | None]]:
    """(file, rank of that clip among videos or None) per query of ``half``, by score.py's rule (best segment
    per video), ranked in-process."""
    from mmvideo.search import search

    rows = [r for r in csv.DictReader(open(EVAL / "queries.tsv"), delimiter="\t") if score.in_half(r["file"], half)]
    out_ranks = []
    for r in rows:
        hits = search(out, r["query"], k=1000, encoder=encoder, modality=modality, videos=True)
        videos = list(dict.fromkeys(h.path.replace("\\", "/") for h in hits))
        out_ranks.append((r["file"], next((i + 1 for i, v in enumerate(videos) if v.endswith("/" + r["file"])), None)))
    return out_ranks


def rank_figures(ranks: list[int | None]) -> dict:
    """recall@1 and MRR of a list of ranks (None: not found)."""
    r1 = sum(r == 1 for r in ranks)
    mrr = sum(1 / r for r in ranks if r) / max(1, len(ranks))
    return {"R@1": f"{r1 / max(1, len(ranks)):.0%}", "MRR": round(mrr, 2)}


def search_figures(score, out: Path, half: str | None, encoder, modality: str = "any") -> dict:
    """score.py's search figures (rank of the clip among videos, best segment per video) ranked in-process."""
    return rank_figures([rank for _, rank in query_ranks(score, out, half, encoder, modality)])


def exact_figures(score_py: Path, out: Path, half: str | None, mmvideo: str) -> dict:
    """Both reports from score.py itself (it calls ``mmvideo search`` once per query)."""
    cmd = [sys.executable, str(score_py), str(out), "--mmvideo", mmvideo] + (["--half", half] if half else [])
    text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    t = re.search(r"hit@5 (\d+)/(\d+).*first tag right (\d+)/(\d+).*P@5 ([\d.]+), tags per tagged segment "
                  r"([\d.]+), untagged segments (\d+)", text)
    s = re.search(r"recall@1 (\d+)/(\d+).*MRR ([\d.]+)", text)
    hit, n, first, nseg, p5, per, untagged = t.groups()
    return {"hit@5": f"{hit}/{n}", "first": f"{int(first) / int(nseg):.0%}", "P@5": float(p5),
            "tags/seg": float(per), "untagged": int(untagged),
            "R@1": f"{int(s.group(1)) / int(s.group(2)):.0%}", "MRR": float(s.group(3))}


def print_table(results: list[tuple[str, str, dict]]) -> None:
    cols = ("hit@5", "first", "P@5", "tags/seg", "untagged", "R@1", "MRR")
    print(f"{'variant':<22} {'clips':<6} " + " ".join(f"{c:>8}" for c in cols))
    for name, half, figs in results:
        print(f"{name:<22} {half:<6} " + " ".join(f"{str(figs.get(c, '')):>8}" for c in cols))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="output folder of `mmvideo run ../shared/eval --evidence`")
    parser.add_argument("--release", type=Path, action="append", default=[],
                        help="also score this output folder as it is (e.g. the previous release's)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="fused,image,audio,text")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="a TaggerSettings field for every variant")
    parser.add_argument("--work", type=Path, default=Path("/tmp/mmvideo-eval-quality"))
    parser.add_argument("--score", type=Path, default=EVAL / "score.py")
    parser.add_argument("--exact", action="store_true", help="score with score.py itself (slow)")
    parser.add_argument("--mmvideo", default=str(Path(sys.executable).parent / "mmvideo"))
    parser.add_argument("--halves", default="all,even,odd")
    parser.add_argument("--json", action="store_true", help="one JSON object per figure row")
    args = parser.parse_args(argv)

    from mmvideo.fuse.tagger import TaggerSettings

    score = load_score(args.score)
    halves = [None if h == "all" else h for h in args.halves.split(",")]
    known = {f.name for f in fields(TaggerSettings)}
    overrides = {}
    for item in args.overrides:
        name, _, value = item.partition("=")
        if name not in known:
            raise SystemExit(f"--set: no TaggerSettings field {name!r}")
        overrides[name] = parse_value(value)
    fuser = Fuser(args.out)
    base = replace(TaggerSettings(top_k=fuser.config.top_k, min_score=fuser.config.min_score), **overrides)
    names = [m.name for m in fuser.base.fusing]
    results = []
    for rel in args.release:
        for half in halves:
            figs = exact_figures(args.score, rel, half, args.mmvideo) if args.exact else {
                **tag_figures(score, rel, half), **search_figures(score, rel, half, fuser.text)}
            results.append((f"release {rel.name}", half or "all", figs))
    for variant in args.variants.split(","):
        keep = names if variant == "fused" else [variant] + (["faces"] if variant == "image" else [])
        settings = replace(base, mask=tuple(n for n in names if n not in keep))
        dst = args.work / variant
        fuser.write(dst, settings)
        for half in halves:
            figs = exact_figures(args.score, dst, half, args.mmvideo) if args.exact else {
                **tag_figures(score, dst, half), **search_figures(score, dst, half, fuser.text)}
            results.append((variant, half or "all", figs))
    if args.json:
        for name, half, figs in results:
            print(json.dumps({"variant": name, "clips": half, **figs}))
    else:
        print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
