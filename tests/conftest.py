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
