#!/usr/bin/env python3
"""How far can ranking go on the evidence we have? Search figures of several runs and their per-query best.

    .venv/bin/mmvideo run ../shared/eval --out OUT1 --format both [...settings...]      # one or more runs
    .venv/bin/python scripts/eval_ceiling.py OUT1 OUT2 ... [--modalities any,fused,image,audio,text]

For every output folder and every search modality it ranks each query of ``../shared/eval/queries.tsv`` by
score.py's rule (the clip's rank among videos, best segment per video; ``eval_quality.query_ranks``), then
takes, per query, the best rank any of those variants reached. That per-query best is an oracle (it picks the
design after seeing the answer), so its recall@1 and MRR bound what choosing among these designs could reach.
The queries it still misses are listed with the clip's strongest ImageNet and AudioSet classes (summed over
segments), the evidence a ranking has to work with.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_quality import EVAL, HALVES, load_score, query_ranks, rank_figures  # noqa: E402


def strongest_classes(out: Path, top: int = 5) -> dict[str, tuple[list[str], list[str]]]:
    """clip file (relative to ../shared/eval) -> its ``top`` image and audio classes by summed score."""
    from mmvideo.write.read import read_table

    table = read_table(out, "segments")
    columns = [c for c in ("image_classes", "audio_classes") if c in table.column_names]
    sums: dict[str, list[Counter]] = {}
    for row in table.select(["path", *columns]).to_pylist():
        clip = row["path"].replace("\\", "/").split("/eval/")[-1]
        counters = sums.setdefault(clip, [Counter(), Counter()])
        for i, col in enumerate(("image_classes", "audio_classes")):
            for c in (row.get(col) or [])[:3]:
                counters[i][c["name"]] += c["score"]
    return {clip: ([n for n, _ in img.most_common(top)], [n for n, _ in aud.most_common(top)])
            for clip, (img, aud) in sums.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outs", type=Path, nargs="+", help="output folders of `mmvideo run ../shared/eval`")
    parser.add_argument("--modalities", default="any,fused,image,audio,text")
    parser.add_argument("--score", type=Path, default=EVAL / "score.py")
    args = parser.parse_args(argv)

    from mmvideo.encode.text import TextEncoder
    from mmvideo.errors import ParameterError

    score = load_score(args.score)
    encoder = TextEncoder()
    variants: dict[str, list[tuple[str, int | None]]] = {}
    for out in args.outs:
        for modality in args.modalities.split(","):
            try:
                variants[f"{out}:{modality}"] = query_ranks(score, out, None, encoder, modality)
            except ParameterError:  # no such embeddings in this folder
                continue
    if not variants:
        raise SystemExit("no searchable variant")
    files = [f for f, _ in next(iter(variants.values()))]
    best = {f: min((dict(v)[f] or 10**6 for v in variants.values()), default=None) for f in files}

    def figures(ranks: dict[str, int | None], half: str | None) -> str:
        sel = [r for f, r in ranks.items() if score.in_half(f, half)]
        figs = rank_figures(sel)
        return f"R@1 {figs['R@1']:>4} MRR {figs['MRR']:.2f}"

    print(f"{'variant':<48} " + "  ".join(f"{h or 'all':<18}" for h in HALVES))
    for name, ranks in variants.items():
        print(f"{name:<48} " + "  ".join(f"{figures(dict(ranks), h):<18}" for h in HALVES))
    print(f"{'per-query best (oracle bound)':<48} " + "  ".join(f"{figures(best, h):<18}" for h in HALVES))

    evidence = strongest_classes(args.outs[0])
    queries = {}
    import csv

    for r in csv.DictReader(open(EVAL / "queries.tsv"), delimiter="\t"):
        queries[r["file"]] = r["query"]
    missed = [f for f in files if best[f] != 1]
    print(f"\n{len(missed)} queries no variant ranks first (best rank; the clip's strongest classes in "
          f"{args.outs[0]}):")
    for f in missed:
        img, aud = evidence.get(f, ([], []))
        print(f"  {best[f]:>3}  {queries[f]!r}: image {', '.join(img) or '-'}; audio {', '.join(aud) or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
