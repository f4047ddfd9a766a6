"""The fps path fed only the GOP prefixes its picks need gives the same frames and times as decoding all.

Clips encode the frame index in their pixels (``tests/test_frames.py``), libx264 with B-frames and short
GOPs, so skipping GOP tails saves decode; each comparison is against the plain path on the same file.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from mmvideo.media import chains
from mmvideo.media import frames as frames_mod
from mmvideo.media.chains import access_unit, chain_source, gop_prefix
from mmvideo.media.ffmpeg import ffmpeg_binary
from mmvideo.media.frames import iter_frames
from mmvideo.media.probe import probe
from tests.test_frames import SRC_H, SRC_W, collect, index_picture, read_index

ROOT = Path(__file__).resolve().parent.parent


def encode(path: Path, frames: int, *, keyint: int, extra: tuple[str, ...] = ()) -> Path:
    """``frames`` index pictures at 30 fps, libx264 (B-frames on) with a keyframe every ``keyint`` frames."""
    argv = [ffmpeg_binary(), "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
            "-s", f"{SRC_W}x{SRC_H}", "-r", "30", "-i", "pipe:", "-c:v", "libx264", "-pix_fmt", "yuv420p",
            "-g", str(keyint), "-keyint_min", str(keyint), "-sc_threshold", "0", *extra, str(path)]
    subprocess.run(argv, input=b"".join(index_picture(n).tobytes() for n in range(frames)), check=True)
    return path


@pytest.fixture(scope="module")
def gop_clip(tmp_path_factory) -> Path:
    """8 s, a keyframe every 0.5 s: most of each GOP lies after the 1 fps pick."""
    return encode(tmp_path_factory.mktemp("chains") / "gop15.mp4", 240, keyint=15)


def both_paths(path: Path, monkeypatch, **kw) -> tuple[tuple, tuple, list[str]]:
    """(times, pictures) from the GOP-prefix path and from the plain path, and the first one's warnings."""
    stream = iter_frames(path, probe(path), **kw)
    fast = collect(stream)
    with monkeypatch.context() as m:
        m.setattr(frames_mod, "chain_source", lambda *a: None)
        plain = collect(iter_frames(path, probe(path), **kw))
    return fast, plain, list(stream.warnings)


@pytest.mark.parametrize("fps", [1.0, 2.5, 0.3])
def test_same_frames_and_times_as_decoding_everything(gop_clip, monkeypatch, fps):
    (t1, p1), (t2, p2), warnings = both_paths(gop_clip, monkeypatch, fps=fps, size=(64, 48))
    assert len(t1) == len(t2) > 0
    np.testing.assert_array_equal(t1, t2)
    np.testing.assert_array_equal(p1, p2)  # byte-identical pictures
    assert [read_index(p) for p in p1] == [round(t * 30) for t in t1]  # each is the frame shown then
    assert warnings == []


def test_only_gop_prefixes_are_fed(gop_clip):
    """At 1 fps with a keyframe every 0.5 s, every other GOP is skipped and the picked ones are cut short."""
    source = chain_source(gop_clip, probe(gop_clip))
    assert source is not None
    sink = _Sink()
    kept, read = chains.feed(source, 1.0, sink)
    assert read == 240
    assert kept < read / 2
    assert sink.size > 0


def test_long_gops_pass_through_whole_with_the_same_frames(gop_clip, monkeypatch):
    """A GOP over the packet bound is decoded whole (bounded memory); the picks do not change."""
    monkeypatch.setattr(chains, "MAX_GOP_PACKETS", 6)
    (t1, p1), (t2, p2), _ = both_paths(gop_clip, monkeypatch, fps=1.0, size=(32, 32))
    np.testing.assert_array_equal(t1, t2)
    np.testing.assert_array_equal(p1, p2)


def test_real_clips_give_the_same_frames(monkeypatch):
    """The samples (MP4 and MKV, with audio, from cameras and the web) through both paths."""
    for name in ("cat.mp4", "coffee.mkv", "three_shots.mp4"):
        path = ROOT / "samples" / name
        assert chain_source(path, probe(path)) is not None, name
        (t1, p1), (t2, p2), _ = both_paths(path, monkeypatch, fps=1.0, size=(64, 64))
        assert len(t1) > 3, name
        np.testing.assert_array_equal(t1, t2)
        np.testing.assert_array_equal(p1, p2)


@pytest.mark.parametrize("open_gop", [False, True])
def test_hevc_gives_the_same_frames(tmp_path, monkeypatch, open_gop):
    """x265 with B-frames: closed GOPs (IDRs) are cut into prefixes; open GOPs (CRAs) are decoded through."""
    params = "keyint=15:min-keyint=15:scenecut=0:open-gop=" + ("1" if open_gop else "0") + ":log-level=error"
    clip = encode(tmp_path / "hevc.mp4", 240, keyint=15, extra=("-c:v", "libx265", "-x265-params", params,
                                                               "-tag:v", "hvc1"))
    source = chain_source(clip, probe(clip))
    assert source is not None and source.codec == "hevc"
    kept, read = chains.feed(source, 1.0, _Sink())
    # open GOPs: one GOP from the only IDR, so only what follows the last pick (7 s) is left out
    assert (kept > 0.8 * read) if open_gop else (kept < read / 2)
    (t1, p1), (t2, p2), warnings = both_paths(clip, monkeypatch, fps=1.0, size=(64, 48))
    assert len(t1) == 8
    np.testing.assert_array_equal(t1, t2)
    np.testing.assert_array_equal(p1, p2)
    assert [read_index(p) for p in p1] == [round(t * 30) for t in t1]
    assert warnings == []


def test_annex_b_and_other_codecs_take_the_plain_path(tmp_path):
    ts = encode(tmp_path / "annexb.ts", 60, keyint=15)  # MPEG-TS: start codes, not length-prefixed
    assert chain_source(ts, probe(ts)) is None
    mpeg4 = encode(tmp_path / "mpeg4.mp4", 60, keyint=15, extra=("-c:v", "mpeg4"))
    assert chain_source(mpeg4, probe(mpeg4)) is None
    stamps, pictures = collect(iter_frames(ts, probe(ts), fps=1.0, size=(32, 32)))
    assert len(stamps) >= 2
    assert [read_index(p) for p in pictures] == [round(t * 30) for t in stamps]  # the plain path, as ever


def test_input_that_ends_early_keeps_what_came_with_a_warning(gop_clip, monkeypatch):
    """A damaged file PyAV stops reading: the frames fed so far come out, and a warning says the input ended."""
    real = chains._gops

    def breaks_after_two(*args):
        for k, gop in enumerate(real(*args)):
            if k == 6:  # 3 s in
                raise OSError("stand-in for a damaged packet")
            yield gop

    monkeypatch.setattr(chains, "_gops", breaks_after_two)
    stream = iter_frames(gop_clip, probe(gop_clip), fps=1.0, size=(32, 32))
    stamps, pictures = collect(stream)
    assert [read_index(p) for p in pictures] == [0, 30, 60]
    assert any("input ended early" in w for w in stream.warnings)


def test_gop_prefix_picks_the_earliest_reference_frame_of_each_new_bin():
    # decode order I P B(ref) b b ; presentation 0, 0.4, 0.2, 0.1, 0.3 s
    pts = [0.0, 0.4, 0.2, 0.1, 0.3]
    ref = [True, True, True, False, False]
    assert gop_prefix(pts, ref, -1, 1.0) == (1, 0)  # bin 0 is picked by the I frame alone
    assert gop_prefix(pts, ref, -1, 5.0) == (3, 2)  # bins 0 (I), 1 (B at 0.2: needs the P before it), 2 (P)
    assert gop_prefix(pts, ref, 0, 1.0) == (0, 0)  # bin 0 already picked in an earlier GOP: skip it all
    assert gop_prefix([1.0, 1.5], [True, True], 0, 1.0) == (1, 1)


def test_access_unit_reads_the_slice_header():
    sei = (5).to_bytes(4, "big") + bytes([0x06, 1, 2, 3, 4])
    idr = (2).to_bytes(4, "big") + bytes([0x65, 0x88])  # nal_ref_idc 3, type 5
    nonref = (2).to_bytes(4, "big") + bytes([0x01, 0x9A])  # nal_ref_idc 0, type 1
    ref_p = (2).to_bytes(2, "big") + bytes([0x41, 0x9A])  # 2-byte lengths, nal_ref_idc 2, type 1
    assert access_unit(sei + idr) == chains.AccessUnit(ref=True, idr=True)
    assert access_unit(nonref) == chains.AccessUnit(ref=False, idr=False)
    assert access_unit(ref_p, 2) == chains.AccessUnit(ref=True, idr=False)
    assert access_unit(sei) is None

    def hevc(kind: int) -> bytes:  # 2-byte NAL header: forbidden bit, type (6 bits), layer id, temporal id + 1
        return (3).to_bytes(4, "big") + bytes([kind << 1, 0x01, 0xAF])

    prefix_sei = (3).to_bytes(4, "big") + bytes([39 << 1, 0x01, 0x05])
    assert access_unit(prefix_sei + hevc(19), codec="hevc") == chains.AccessUnit(ref=True, idr=True)  # IDR_W_RADL
    assert access_unit(hevc(1), codec="hevc") == chains.AccessUnit(ref=True, idr=False)  # TRAIL_R
    assert access_unit(hevc(0), codec="hevc") == chains.AccessUnit(ref=False, idr=False)  # TRAIL_N
    assert access_unit(hevc(21), codec="hevc") == chains.AccessUnit(ref=True, idr=False)  # CRA: no restart
    assert access_unit(prefix_sei, codec="hevc") is None


class _Sink:
    """A write-only binary file that counts bytes (what ffmpeg's stdin would get)."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data) -> int:
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return False




@pytest.mark.slow
def test_every_real_clip_that_takes_the_path_gives_the_same_frames(shared_media, monkeypatch):
    """``../shared/media``'s H.264 clips from phones, cameras and the web (rotated, 3GP, MOV, MKV, corrupted)."""
    taken = []
    for path in sorted(p for p in shared_media.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES):
        try:
            info = probe(path)
        except Exception:  # noqa: BLE001 - files that are broken on purpose: other tests cover them
            continue
        if info.video is None or chain_source(path, info) is None:
            continue
        taken.append(path.name)
        (t1, p1), (t2, p2), _ = both_paths(path, monkeypatch, fps=1.0, size=(48, 48))
        np.testing.assert_array_equal(t1, t2, err_msg=path.name)
        np.testing.assert_array_equal(p1, p2, err_msg=path.name)
    assert len(taken) >= 5, taken  # 6 of 14 when written (the others: VP8/VP9, MPEG-TS, H.263, broken)


VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".3gp", ".m4v", ".mts", ".webm"}
