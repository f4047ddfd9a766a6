"""What an output folder has done: an SQLite store inside it, and the lock that allows one run at a time.

``OUT/.mmvideo/state.sqlite`` records each video's content id, pipeline fingerprint and status (done or
failed, with stage and one-line cause), every other input file (a copy of a recorded video, a file with no
usable content: table ``files``, by path) and each run's summary, so the output folder alone says what was
done. Table ``file_ids`` remembers each input path's content id with the (device, inode, size, mtime,
ctime) it had when hashed (``ContentIds``), so reruns hash only files that changed. Older stores gain the
tables they lack in place when opened. ``OUT/.mmvideo/lock`` is
held with ``flock`` for the whole run: the kernel releases it when the process dies (even by SIGKILL), so a
lock left by a killed run is taken over, never waited on.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from mmvideo.errors import SetupError

STATE_DIR = ".mmvideo"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS videos (
    video_id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    stage TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 1,
    duration REAL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    content_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('duplicate', 'failed')),
    duplicate_of TEXT,
    fingerprint TEXT NOT NULL,
    stage TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 1,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    pid INTEGER, host TEXT, command TEXT, fingerprint TEXT,
    started_at TEXT NOT NULL, ended_at TEXT,
    total INTEGER DEFAULT 0, done INTEGER DEFAULT 0, skipped INTEGER DEFAULT 0,
    failed INTEGER DEFAULT 0, pending INTEGER DEFAULT 0,
    seconds REAL, video_seconds REAL, status TEXT,
    duplicates INTEGER DEFAULT 0, pruned INTEGER DEFAULT 0
);
CREATE TABLE IF NOT EXISTS file_ids (
    path TEXT PRIMARY KEY,
    dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,
    content_id TEXT NOT NULL
) WITHOUT ROWID;
"""
STATE_VERSION = 3  # PRAGMA user_version; 1 (no such pragma set): no files table; 2: no file_ids table
HOT_NS = 2_000_000_000  # a file modified this recently may still change within its mtime tick: not remembered

_VIDEO_COLUMNS = "video_id, path, fingerprint, status, stage, error, attempts, NULL, video_id"
_FILE_COLUMNS = "content_id, path, fingerprint, status, stage, error, attempts, duplicate_of, key"


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class VideoState:
    """One recorded input file: a video (by content id) or a copy / error file (by path, ``key`` dup-/err-)."""

    video_id: str  # content id
    path: str
    fingerprint: str
    status: str  # "done", "failed" or "duplicate"
    stage: str | None
    error: str | None
    attempts: int
    duplicate_of: str | None = None
    key: str = ""  # the name of its output parts; the content id for a video

    @property
    def part_key(self) -> str:
        """Name of the output parts this entry owns."""
        return self.key or self.video_id


class State:
    """The per-output-folder store. Each write is its own committed transaction (safe under SIGKILL)."""

    def __init__(self, out_dir: os.PathLike | str) -> None:
        self.dir = Path(out_dir) / STATE_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.dir / "state.sqlite", timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)  # creates what a schema-1 store lacks (the files table)
        if self.db.execute("PRAGMA user_version").fetchone()[0] < STATE_VERSION:
            _migrate_runs(self.db)
            self.db.execute(f"PRAGMA user_version = {STATE_VERSION}")

    def close(self) -> None:
        """Close the database."""
        self.db.close()

    def get(self, video_id: str) -> VideoState | None:
        """The recorded video with content id ``video_id``, or None."""
        row = self.db.execute(f"SELECT {_VIDEO_COLUMNS} FROM videos WHERE video_id = ?", (video_id,)).fetchone()
        return VideoState(*row) if row else None

    def get_file(self, path: str) -> VideoState | None:
        """The recorded copy or error file at ``path``, or None."""
        row = self.db.execute(f"SELECT {_FILE_COLUMNS} FROM files WHERE path = ?", (path,)).fetchone()
        return VideoState(*row) if row else None

    def paths(self, video_ids: Iterable[str]) -> dict[str, str]:
        """Recorded path of each of ``video_ids`` that has a video row."""
        found = {}
        for vid in set(video_ids):
            row = self.db.execute("SELECT path FROM videos WHERE video_id = ?", (vid,)).fetchone()
            if row:
                found[vid] = row[0]
        return found

    def set_path(self, video_id: str, path: str) -> None:
        """Record that video ``video_id`` now lives at ``path`` (a moved file)."""
        self.db.execute("UPDATE videos SET path = ?, updated_at = ? WHERE video_id = ?", (path, utc_now(), video_id))

    def mark_file(self, path: str, key: str, content_id: str, status: str, fingerprint: str, *,
                  duplicate_of: str | None = None, stage: str | None = None, error: str | None = None) -> None:
        """Record a copy (status ``duplicate``) or a file with no usable content (``failed``) at ``path``."""
        self.db.execute(
            "INSERT INTO files (path, key, content_id, status, duplicate_of, fingerprint, stage, error, attempts, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?) ON CONFLICT(path) DO UPDATE SET key=excluded.key, "
            "content_id=excluded.content_id, status=excluded.status, duplicate_of=excluded.duplicate_of, "
            "fingerprint=excluded.fingerprint, stage=excluded.stage, error=excluded.error, "
            "attempts=files.attempts+1, updated_at=excluded.updated_at",
            (path, key, content_id, status, duplicate_of, fingerprint, stage, error, utc_now()))

    def forget(self, entry: VideoState) -> None:
        """Delete ``entry``'s row (its results were pruned) and its path's remembered content id."""
        self.db.execute("DELETE FROM file_ids WHERE path = ?", (entry.path,))
        if entry.key and entry.key != entry.video_id:
            self.db.execute("DELETE FROM files WHERE path = ?", (entry.path,))
        else:
            self.db.execute("DELETE FROM videos WHERE video_id = ?", (entry.video_id,))

    def entries(self) -> list[VideoState]:
        """Every recorded input file (videos, copies, error files), by path."""
        rows = self.db.execute(f"SELECT {_VIDEO_COLUMNS} FROM videos").fetchall()
        rows += self.db.execute(f"SELECT {_FILE_COLUMNS} FROM files").fetchall()
        return sorted((VideoState(*r) for r in rows), key=lambda e: e.path)

    def missing(self, exists: Callable[[str], bool] | None = None) -> list[VideoState]:
        """Recorded files whose path no longer exists (deleted, or moved and not seen by a run since), by path.

        Reads only the paths, checks them against one listing per folder (``absent_paths``; pass ``exists`` to
        check path by path instead) and builds objects only for the missing ones: quick on 100,000 files."""
        gone = []
        for table, columns in (("videos", _VIDEO_COLUMNS), ("files", _FILE_COLUMNS)):
            paths = [p for (p,) in self.db.execute(f"SELECT path FROM {table}")]
            lost = absent_paths(paths) if exists is None else [p for p in paths if not exists(p)]
            for start in range(0, len(lost), 500):  # SQLite's bound-parameter limit
                chunk = lost[start:start + 500]
                gone += [VideoState(*row) for row in self.db.execute(
                    f"SELECT {columns} FROM {table} WHERE path IN ({','.join('?' * len(chunk))})", chunk)]
        return sorted(gone, key=lambda e: e.path)

    def mark_done(self, video_id: str, path: str, fingerprint: str, duration: float | None) -> None:
        self.db.execute(
            "INSERT INTO videos (video_id, path, fingerprint, status, stage, error, attempts, duration, updated_at) "
            "VALUES (?, ?, ?, 'done', NULL, NULL, 1, ?, ?) ON CONFLICT(video_id) DO UPDATE SET path=excluded.path, "
            "fingerprint=excluded.fingerprint, status='done', stage=NULL, error=NULL, attempts=videos.attempts+1, "
            "duration=excluded.duration, updated_at=excluded.updated_at",
            (video_id, path, fingerprint, duration, utc_now()))

    def mark_failed(self, video_id: str, path: str, fingerprint: str, stage: str, error: str) -> None:
        self.db.execute(
            "INSERT INTO videos (video_id, path, fingerprint, status, stage, error, attempts, updated_at) "
            "VALUES (?, ?, ?, 'failed', ?, ?, 1, ?) ON CONFLICT(video_id) DO UPDATE SET path=excluded.path, "
            "fingerprint=excluded.fingerprint, status='failed', stage=excluded.stage, error=excluded.error, "
            "attempts=videos.attempts+1, updated_at=excluded.updated_at",
            (video_id, path, fingerprint, stage, error, utc_now()))

    def counts(self) -> dict[str, int]:
        """Recorded input files by status: done, failed (videos and error files), duplicate."""
        counts = {"done": 0, "failed": 0, "duplicate": 0}
        for table in ("videos", "files"):
            for status, n in self.db.execute(f"SELECT status, count(*) FROM {table} GROUP BY status"):
                counts[status] = counts.get(status, 0) + n
        return counts

    def failures(self, limit: int | None = None) -> list[VideoState]:
        """The failed input files (videos and error files), by path; the first ``limit`` when given."""
        rows = self.db.execute(f"SELECT {_VIDEO_COLUMNS} FROM videos WHERE status = 'failed' UNION ALL "
                               f"SELECT {_FILE_COLUMNS} FROM files WHERE status = 'failed' ORDER BY 2 LIMIT ?",
                               (-1 if limit is None else limit,)).fetchall()
        return [VideoState(*r) for r in rows]

    def start_run(self, command: str, fingerprint: str, total: int) -> int:
        cur = self.db.execute("INSERT INTO runs (pid, host, command, fingerprint, started_at, total, status) "
                              "VALUES (?, ?, ?, ?, ?, ?, 'running')",
                              (os.getpid(), socket.gethostname(), command, fingerprint, utc_now(), total))
        return int(cur.lastrowid)

    def end_run(self, run_id: int, *, done: int, skipped: int, failed: int, pending: int, seconds: float,
                video_seconds: float, status: str, duplicates: int = 0, pruned: int = 0) -> None:
        self.db.execute("UPDATE runs SET ended_at=?, done=?, skipped=?, failed=?, pending=?, seconds=?, "
                        "video_seconds=?, status=?, duplicates=?, pruned=? WHERE run_id=?",
                        (utc_now(), done, skipped, failed, pending, seconds, video_seconds, status, duplicates,
                         pruned, run_id))

    def last_run(self) -> dict | None:
        cur = self.db.execute("SELECT * FROM runs ORDER BY run_id DESC LIMIT 1")
        row = cur.fetchone()
        return dict(zip([d[0] for d in cur.description], row)) if row else None


def absent_paths(paths: Iterable[str]) -> list[str]:
    """The ``paths`` that do not exist (as ``os.path.exists`` says), from one ``scandir`` per folder: 100
    listings instead of 100,000 ``stat`` calls for a library of 1,000-file folders, and set operations instead of
    a Python call per path. A symbolic link is still followed."""
    by_folder: dict[str, list[str]] = {}
    for path in paths:
        folder, sep, name = path.rpartition(os.sep)
        by_folder.setdefault(folder + sep, []).append(name)  # "" (relative), "/" (the root) or "/a/b/"
    gone: list[str] = []
    for prefix, names in by_folder.items():
        try:
            with os.scandir(prefix or ".") as it:
                listing = {e.name: e.is_symlink() for e in it}
        except (FileNotFoundError, NotADirectoryError):  # the folder is gone: so is everything in it
            gone += [prefix + n for n in names]
            continue
        except OSError:  # a folder we may not list (but perhaps traverse): path by path
            gone += [prefix + n for n in names if not os.path.exists(prefix + n)]
            continue
        wanted = set(names)
        gone += [prefix + n for n in wanted.difference(listing)]
        links = wanted.intersection(n for n, link in listing.items() if link) if any(listing.values()) else ()
        gone += [prefix + n for n in links if not os.path.exists(prefix + n)]
    return gone


def _int64(value: int) -> int:
    """``value`` folded into SQLite's signed 64-bit range (device and inode numbers are unsigned)."""
    return value - (1 << 64) if value >= 1 << 63 else value


class ContentIds:
    """Content ids by path from ``file_ids``, reused while (device, inode, size, mtime, ctime) are unchanged.

    Implements ``discover.KnownIds``. ``rehash=True`` looks nothing up (every file is hashed) but still
    records. New ids are written in batches; ``flush`` writes the rest (a kill loses only unwritten ids).
    """

    BATCH = 2000

    def __init__(self, state: State, *, rehash: bool = False) -> None:
        self.db = state.db
        self.rehash = rehash
        self.pending: list[tuple] = []
        self.hits = 0
        self.misses = 0

    @staticmethod
    def _key(st: os.stat_result) -> tuple[int, int, int, int, int]:
        return _int64(st.st_dev), _int64(st.st_ino), st.st_size, st.st_mtime_ns, st.st_ctime_ns

    def lookup(self, path: str, st: os.stat_result) -> str | None:
        """The recorded content id of ``path`` when its ``stat`` matches the recorded one, else None."""
        if not self.rehash:
            row = self.db.execute("SELECT dev, ino, size, mtime_ns, ctime_ns, content_id FROM file_ids "
                                  "WHERE path = ?", (path,)).fetchone()
            if row is not None and row[:5] == self._key(st):
                self.hits += 1
                return row[5]
        self.misses += 1
        return None

    def store(self, path: str, st: os.stat_result, content_id: str) -> None:
        """Remember ``content_id`` for ``path`` as it was at ``st`` (not for a file modified in the last 2 s)."""
        if time.time_ns() - st.st_mtime_ns < HOT_NS:
            return
        self.pending.append((path, *self._key(st), content_id))
        if len(self.pending) >= self.BATCH:
            self.flush()

    def flush(self) -> None:
        """Write the remembered ids not yet written, in one transaction."""
        if not self.pending:
            return
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR REPLACE INTO file_ids (path, dev, ino, size, mtime_ns, ctime_ns, "
                                "content_id) VALUES (?, ?, ?, ?, ?, ?, ?)", self.pending)
        self.pending = []


def _migrate_runs(db: sqlite3.Connection) -> None:
    """Schema 1 -> 2: the runs table gains its duplicates and pruned counts."""
    have = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
    for column in ("duplicates", "pruned"):
        if column not in have:
            db.execute(f"ALTER TABLE runs ADD COLUMN {column} INTEGER DEFAULT 0")


class RunLock:
    """Exclusive, crash-safe lock on an output folder (``flock``; released by the kernel on death)."""

    def __init__(self, out_dir: os.PathLike | str) -> None:
        self.path = Path(out_dir) / STATE_DIR / "lock"
        self.fd: int | None = None
        self.took_over_from: dict | None = None

    def acquire(self) -> "RunLock":
        """Take the lock or raise ``SetupError`` naming the process that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            who = f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('started_at')}" if holder \
                else "another process"
            raise SetupError(f"{self.path.parent.parent}: another mmvideo run is using this output folder "
                             f"({who}); wait for it to finish or use another --out") from None
        previous = _read_holder(fd)
        if previous and previous.get("pid") and not previous.get("released"):
            self.took_over_from = previous  # its process died without releasing: a stale lock
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started_at": utc_now(),
                                  "time": time.time()}).encode(), 0)
        os.fsync(fd)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is None:
            return
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, json.dumps({"released": True, "at": utc_now()}).encode(), 0)
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read_holder(fd: int) -> dict:
    try:
        data = os.pread(fd, 4096, 0)
        return json.loads(data) if data.strip() else {}
    except (OSError, ValueError):
        return {}


def check_writable(out_dir: os.PathLike | str) -> Path:
    """Create the output folder if needed; ``SetupError`` (exit 2) when it cannot be written."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".mmvideo-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise SetupError(f"{out}: output folder is not writable ({exc.strerror or exc})") from None
    return out
