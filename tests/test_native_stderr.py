"""Native libraries' stderr chatter during model loading: hidden, unless it matters."""

from __future__ import annotations

import os

import pytest

from mmvideo.native_stderr import native_stderr_captured


def _chatter() -> None:
    os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    os.write(2, b"mmvideo: a warning of our own\n")


def test_native_lines_are_hidden_and_own_lines_kept(capfd, monkeypatch) -> None:
    monkeypatch.delenv("MMVIDEO_DEBUG", raising=False)
    with native_stderr_captured():
        _chatter()
    err = capfd.readouterr().err
    assert "mmvideo: a warning of our own" in err
    assert "XNNPACK" not in err
    os.write(2, b"after\n")  # fd 2 is restored
    assert capfd.readouterr().err == "after\n"


def test_everything_is_written_back_when_loading_fails(capfd, monkeypatch) -> None:
    monkeypatch.delenv("MMVIDEO_DEBUG", raising=False)
    with pytest.raises(RuntimeError, match="load failed"):
        with native_stderr_captured():
            _chatter()
            raise RuntimeError("load failed")
    err = capfd.readouterr().err
    assert "XNNPACK delegate" in err and "mmvideo: a warning of our own" in err


def test_debug_mode_shows_native_lines(capfd, monkeypatch) -> None:
    monkeypatch.setenv("MMVIDEO_DEBUG", "1")
    with native_stderr_captured():
        _chatter()
    assert "XNNPACK delegate" in capfd.readouterr().err


def test_nested_blocks_capture_once(capfd, monkeypatch) -> None:
    monkeypatch.delenv("MMVIDEO_DEBUG", raising=False)
    with native_stderr_captured():
        with native_stderr_captured():
            _chatter()
    err = capfd.readouterr().err
    assert "XNNPACK" not in err and err.count("mmvideo: a warning of our own") == 1
