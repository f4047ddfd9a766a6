"""Record golden outputs of `mmvideo run` on samples/ and ../shared/media (tests/data/golden/*.jsonl).

The golden files guard refactors: `tests/test_golden.py` runs the same commands and compares segments, tags,
scores and embeddings (float tolerance). Regenerate only when results change on purpose, and say why (with the
evaluation figures) in the commit message::

    .venv/bin/python scripts/make_golden.py
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "data" / "golden"

#: name -> (input folder relative to the repo, extra `mmvideo run` options)
CASES: dict[str, tuple[str, list[str]]] = {
    "samples_default": ("samples", []),
    "samples_shots_labels": ("samples", ["--shots", "--labels", "cat,coffee,rocket,galaxy,person,speech,music",
                                         "--top-k", "3"]),
    "shared_media_default": ("../shared/media", []),
}


def run_case(name: str, mmvideo: str, out_root: Path) -> list[dict]:
    """Run one case into a fresh folder; rows of segments and videos, paths relative to the input folder."""
    folder, options = CASES[name]
    root = (REPO / folder).resolve()
    out = out_root / name
    subprocess.run([mmvideo, "run", str(root), "--out", str(out), "--format", "jsonl", "--quiet", *options],
                   check=False, stdout=subprocess.DEVNULL)
    return collect(out, root)


def collect(out: Path, root: Path) -> list[dict]:
    """The rows the golden test compares, sorted by (table, path, segment); paths relative to ``root``."""
    rows: list[dict] = []
    for table in ("segments", "videos"):
        for part in sorted((out / "jsonl" / table).glob("*.jsonl")):
            if part.name.startswith("."):
                continue
            for line in part.read_text(encoding="utf-8").splitlines():
                r = json.loads(line)
                rel = str(Path(r["path"]).resolve().relative_to(root))
                if table == "segments":
                    rows.append({"table": "segments", "path": rel, "segment": r["segment"], "start": r["start"],
                                 "end": r["end"], "modalities": r["modalities"], "text": r["text"],
                                 "tags": [{"label": t["label"], "score": t["score"],
                                           "attention": {m: w for m, w in t["attention"].items()}}
                                          for t in r["tags"]],
                                 "image_classes": r["image_classes"], "audio_classes": r["audio_classes"],
                                 "faces": r["faces"], "face_confidence": r["face_confidence"],
                                 "embedding": [round(x, 6) for x in r["embedding"]]})
                elif r["status"] in ("done", "failed"):
                    rows.append({"table": "videos", "path": rel, "status": r["status"], "stage": r["stage"],
                                 "duration": r["duration"], "segments": r["segments"],
                                 "top_tags": [t["label"] for t in r["top_tags"]]})
    rows.sort(key=lambda r: (r["table"], r["path"], r.get("segment", -1)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mmvideo", default=str(REPO / ".venv" / "bin" / "mmvideo"))
    parser.add_argument("cases", nargs="*", default=list(CASES))
    args = parser.parse_args()
    GOLDEN.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.cases:
            rows = run_case(name, args.mmvideo, Path(tmp))
            path = GOLDEN / f"{name}.jsonl"
            path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows), encoding="utf-8")
            print(f"{path.relative_to(REPO)}: {len(rows)} rows", file=sys.stderr)


if __name__ == "__main__":
    main()
