"""Cost of zero-shot fusion: re-fuse and write an output folder's evidence with the default settings, beside
the settings before the evidence gate and the tag sentence (fusion version 2), in one process.

    .venv/bin/mmvideo run ../shared/eval --out OUT --format both --evidence      # once
    .venv/bin/python benchmarks/bench_fusion.py OUT [--repeat 3]

Prints CPU and wall seconds (best of ``--repeat``) and CPU ms per video-second for each; compare with the
end-to-end cost per video-second (``bench_run.py``) for fusion's share.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import eval_quality  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="an output folder written with --evidence")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from mmvideo.fuse.tagger import TaggerSettings

    fuser = eval_quality.Fuser(args.out)
    now = TaggerSettings(top_k=fuser.config.top_k, min_score=fuser.config.min_score)
    before = replace(now, fine_slots=100, unsupported=1.0, supported_boost=1.0, tag_text_weight=0.0)
    seconds = sum(ev.info.get("duration") or 0.0 for ev in fuser.evidence)
    best: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        fuser.write(Path(tmp) / "warm", now)
        for _ in range(args.repeat):
            for name, settings in (("before (v2)", before), ("now", now)):
                cpu, wall = time.process_time(), time.perf_counter()
                fuser.write(Path(tmp) / "out", settings)
                took = (time.process_time() - cpu, time.perf_counter() - wall)
                best[name] = min(best.get(name, took), took)
    for name, (cpu, wall) in best.items():
        print(f"{name:<12} fuse + write {len(fuser.evidence)} videos ({seconds:.0f} s of video): CPU {cpu:.2f} s, "
              f"wall {wall:.2f} s, {1000 * cpu / max(seconds, 1e-9):.2f} ms CPU per video-second")
    return 0


if __name__ == "__main__":
    sys.exit(main())
