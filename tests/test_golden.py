"""Golden outputs: `mmvideo run` on samples/ and ../shared/media gives the results the release at c339f43 gave.

The files in tests/data/golden/ come from `scripts/make_golden.py`; they guard refactors (same segments, tags,
scores, classes, embeddings within float tolerance). A change of results on purpose regenerates them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import make_golden  # noqa: E402

pytestmark = pytest.mark.slow

GOLDEN = Path(__file__).resolve().parent / "data" / "golden"
SCORE_TOL = 2e-3  # LiteRT/XNNPACK float32 and thread timing keep scores within ~1e-5; headroom for platforms
EMB_TOL = 2e-3


def _load(name: str) -> list[dict]:
    return [json.loads(line) for line in (GOLDEN / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]


def _mmvideo() -> str:
    return str(Path(sys.executable).with_name("mmvideo"))


def _compare(got: list[dict], want: list[dict]) -> None:
    assert [(r["table"], r["path"], r.get("segment")) for r in got] == \
        [(r["table"], r["path"], r.get("segment")) for r in want]
    for g, w in zip(got, want):
        where = f"{w['path']} segment {w.get('segment')}"
        if w["table"] == "videos":
            assert (g["status"], g["stage"], g["segments"]) == (w["status"], w["stage"], w["segments"]), where
            assert g["duration"] == pytest.approx(w["duration"], abs=1e-3), where
            continue
        assert (g["start"], g["end"]) == pytest.approx((w["start"], w["end"]), abs=1e-6), where
        assert g["modalities"] == w["modalities"] and g["text"] == w["text"], where
        assert [t["label"] for t in g["tags"]] == [t["label"] for t in w["tags"]], where
        for gt, wt in zip(g["tags"], w["tags"]):
            assert gt["score"] == pytest.approx(wt["score"], abs=SCORE_TOL), (where, wt["label"])
            for m, weight in wt["attention"].items():
                assert gt["attention"].get(m, 0.0) == pytest.approx(weight, abs=SCORE_TOL), (where, m)
        for key in ("image_classes", "audio_classes"):
            assert [c["name"] for c in g[key]] == [c["name"] for c in w[key]], (where, key)
            assert [c["score"] for c in g[key]] == pytest.approx([c["score"] for c in w[key]], abs=SCORE_TOL)
        assert g["faces"] == w["faces"], where
        assert (g["face_confidence"] is None) == (w["face_confidence"] is None), where
        if w["face_confidence"] is not None:
            assert g["face_confidence"] == pytest.approx(w["face_confidence"], abs=SCORE_TOL), where
        assert g["embedding"] == pytest.approx(w["embedding"], abs=EMB_TOL), where


@pytest.mark.parametrize("name", sorted(make_golden.CASES))
def test_run_matches_golden_outputs(real_models, tmp_path, name):
    folder, _ = make_golden.CASES[name]
    if not (make_golden.REPO / folder).is_dir():
        pytest.skip(f"{folder} not found")
    _compare(make_golden.run_case(name, _mmvideo(), tmp_path), _load(name))
