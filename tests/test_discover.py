"""discover() and content_id() on folders built in tmp_path: known names in, known files out."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from mmvideo.discover import CONTENT_ID_CHUNK, content_id, discover

FAKE = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4  # media by extension: discovery does not decode


def touch(path: Path, data: bytes = FAKE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def names(found, root: Path) -> list[str]:
    return [os.path.relpath(f.path, root) for f in found]


def test_picks_media_skips_hidden_empty_partial_and_sidecars(tmp_path):
    for rel in ["b.mp4", "a/c.MKV", "a/song.flac", "a/z.webm", "clip.mts", "voice.opus",
                ".hidden.mp4", ".cache/x.mp4", "dl.mp4.part", "dl2.mp4.crdownload", "dl3.tmp",
                "dl4.download", "dl5.partial", "b.srt", "b.vtt", "b.ass", "b.ssa", "b.sub",
                "notes.txt", "readme.md", "meta.json", "cover.jpg", "thumb.png"]:
        touch(tmp_path / rel)
    touch(tmp_path / "empty.mp4", b"")
    found = list(discover([tmp_path]))
    # depth-first, entries sorted by code point: "a" < "b.mp4" < "clip.mts" < "voice.opus"
    assert names(found, tmp_path) == ["a/c.MKV", "a/song.flac", "a/z.webm", "b.mp4", "clip.mts",
                                      "voice.opus"]
    assert all(os.path.isabs(f.path) for f in found)
    f = found[3]
    assert f.size == len(FAKE) and f.mtime == os.stat(f.path).st_mtime and len(f.content_id) == 20


def test_order_is_stable(tmp_path):
    for rel in ["z.mp4", "m/b.mp4", "m/a.mp4", "A.mp4", "é.mp4"]:
        touch(tmp_path / rel)
    first = names(discover([tmp_path]), tmp_path)
    assert first == ["A.mp4", "m/a.mp4", "m/b.mp4", "z.mp4", "é.mp4"]
    assert names(discover([tmp_path]), tmp_path) == first


def test_odd_file_names(tmp_path):
    odd = ["-leading-dash.mp4", "with space.mp4", "it's \"quoted\".mp4", "ünïcødé 視頻.mp4",
           "colon:name.mp4", "semi;colon $x.mp4"]
    for name in odd:
        touch(tmp_path / name)
    assert sorted(names(discover([tmp_path]), tmp_path)) == sorted(odd)
    # explicit file paths with the same names work too
    assert [Path(f.path).name for f in discover([tmp_path / n for n in odd])] == odd


def test_symlink_loop_terminates_and_each_file_once(tmp_path):
    touch(tmp_path / "d/v.mp4")
    os.symlink(tmp_path, tmp_path / "d/loop")  # d/loop -> root -> d -> ...
    os.symlink(tmp_path / "d/v.mp4", tmp_path / "link.mp4")
    found = names(discover([tmp_path]), tmp_path)
    assert found == ["d/v.mp4"]  # link.mp4 is the same file, found second
    assert names(discover([tmp_path], follow_symlinks=False), tmp_path) == ["d/v.mp4"]


def test_symlinked_folder_followed_unless_told_not_to(tmp_path):
    touch(tmp_path / "real/v.mp4")
    (tmp_path / "root").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "root/linked")
    assert names(discover([tmp_path / "root"]), tmp_path) == ["root/linked/v.mp4"]
    assert list(discover([tmp_path / "root"], follow_symlinks=False)) == []


def test_broken_symlink_and_missing_path_warn(tmp_path, caplog):
    touch(tmp_path / "ok.mp4")
    os.symlink(tmp_path / "gone.mp4", tmp_path / "broken.mp4")
    with caplog.at_level(logging.WARNING, logger="mmvideo.discover"):
        found = names(discover([tmp_path, tmp_path / "nope"]), tmp_path)
    assert found == ["ok.mp4"]
    messages = [r.getMessage() for r in caplog.records]
    assert any("broken.mp4" in m for m in messages)
    assert any("nope: skipped: no such file or folder" in m for m in messages)


def test_unreadable_folder_and_file_are_skipped_with_a_warning(tmp_path, caplog, monkeypatch):
    # The suite may run as root, where chmod does not stop reads: fail the OS calls instead.
    touch(tmp_path / "locked/v.mp4")
    touch(tmp_path / "secret.mp4")
    touch(tmp_path / "z.mp4")
    real_scandir, real_open = os.scandir, open

    def scandir(path):
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    def fake_open(path, *args, **kwargs):
        if os.fspath(path).endswith("secret.mp4"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr("builtins.open", fake_open)
    with caplog.at_level(logging.WARNING, logger="mmvideo.discover"):
        found = names(discover([tmp_path]), tmp_path)
    assert found == ["z.mp4"]
    messages = [r.getMessage() for r in caplog.records]
    assert any("locked: skipped folder: permission denied" in m for m in messages)
    assert any("secret.mp4: skipped: permission denied" in m for m in messages)


def test_explicit_files(tmp_path, caplog):
    hidden = touch(tmp_path / ".hidden.mp4")
    partial = touch(tmp_path / "x.mp4.part")
    unknown = touch(tmp_path / "clip.weird")
    sidecar = touch(tmp_path / "x.srt")
    empty = touch(tmp_path / "e.mp4", b"")
    with caplog.at_level(logging.WARNING, logger="mmvideo.discover"):
        found = [f.path for f in discover([hidden, partial, unknown, sidecar, empty, hidden])]
    # named by the user: picked even when hidden, partial or of unknown extension; probe judges them
    assert found == [str(hidden), str(partial), str(unknown)]
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "x.srt: skipped: not a media file" in messages and "e.mp4: skipped: empty file" in messages


def test_unknown_extensions_are_sniffed(tmp_path, shared_media):
    shutil.copy(shared_media / "mdn/friday.mp4", tmp_path / "clip.video")
    shutil.copy(shared_media / "whisper/jfk.flac", tmp_path / "speech")  # no extension at all
    touch(tmp_path / "random.dat", bytes(range(256)) * 40)
    (tmp_path / "words.log2").write_text("just some text\n" * 50)
    shutil.copy(shared_media / "mdn/friday.vtt", tmp_path / "captions.cap")  # subtitles only
    assert names(discover([tmp_path]), tmp_path) == ["clip.video", "speech"]
    assert list(discover([tmp_path], probe_unknown=False)) == []


def test_ts_extension_is_checked_by_content(tmp_path, shared_media):
    shutil.copy(shared_media / "metadata-extractor/Sony ILCE-7M3 (A7M3).mts", tmp_path / "camera.ts")
    (tmp_path / "index.ts").write_text("export const answer: number = 42;\n")  # TypeScript
    assert names(discover([tmp_path]), tmp_path) == ["camera.ts"]
    assert names(discover([tmp_path], probe_unknown=False), tmp_path) == ["camera.ts", "index.ts"]


def test_fifo_is_not_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.mp4")
    touch(tmp_path / "v.mp4")
    assert names(discover([tmp_path]), tmp_path) == ["v.mp4"]  # would block forever if opened


# --- content_id ----------------------------------------------------------------------------------

def test_content_id_survives_rename_and_copy(tmp_path):
    a = touch(tmp_path / "a.mp4", os.urandom(5000))
    cid = content_id(a)
    b = tmp_path / "renamed.mkv"
    shutil.copy(a, b)
    assert content_id(b) == cid
    a.rename(tmp_path / "moved.mp4")
    assert content_id(tmp_path / "moved.mp4") == cid
    assert len(cid) == 20 and int(cid, 16) >= 0


def test_content_id_changes_with_one_byte(tmp_path):
    data = bytearray(os.urandom(5000))
    a = touch(tmp_path / "a.mp4", bytes(data))
    data[2500] ^= 1
    b = touch(tmp_path / "b.mp4", bytes(data))
    assert content_id(a) != content_id(b)
    c = touch(tmp_path / "c.mp4", bytes(data) + b"\0")  # same samples, one byte longer
    assert content_id(c) != content_id(b)


def test_content_id_large_file_samples_head_middle_tail(tmp_path):
    size = 8 * CONTENT_ID_CHUNK
    base = bytearray(size)
    ref = content_id(touch(tmp_path / "ref.bin", bytes(base)))
    middle = (size - CONTENT_ID_CHUNK) // 2
    for offset in (0, CONTENT_ID_CHUNK - 1, middle, middle + CONTENT_ID_CHUNK - 1, size - 1):
        changed = bytearray(base)
        changed[offset] = 1
        assert content_id(touch(tmp_path / "x.bin", bytes(changed))) != ref, offset
    # documented limit: a byte flipped in place outside the samples keeps the id
    changed = bytearray(base)
    changed[2 * CONTENT_ID_CHUNK] = 1
    assert content_id(touch(tmp_path / "x.bin", bytes(changed))) == ref


def test_include_empty_yields_empty_media_files_with_their_error(tmp_path):
    touch(tmp_path / "a.mp4")
    empty = touch(tmp_path / "e.mp4", b"")
    touch(tmp_path / "e.txt", b"")  # empty non-media stays out
    named = touch(tmp_path / "named.weird", b"")
    found = list(discover([tmp_path, named], include_empty=True))
    assert [(Path(f.path).name, f.error) for f in found] == [("a.mp4", None), ("e.mp4", "empty file"),
                                                             ("named.weird", "empty file")]
    assert found[1].path == str(empty) and found[1].key.startswith("err-") and found[0].key == found[0].content_id
