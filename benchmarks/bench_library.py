"""Nightly reruns over a library of 100,000 small files: first run, unchanged rerun, rerun after touching 10.

The library is generated fast: tiny files with a media extension and distinct content that fail at probe
(error records, the cheapest real outcome), 1,000 per folder, mtimes an hour old. Each run is the real
`mmvideo run ... --format parquet` command in a fresh interpreter (start-up included); its wall time and
peak RSS (``wait4``) are printed. Baseline: the same rerun with ``--rehash`` (every file hashed again:
what every rerun cost before content ids were reused). Goal: unchanged rerun under 30 s at 100,000 files;
after touching 10 files exactly those 10 are hashed again (their content is unchanged, so none is
re-processed; the state's ``file_ids`` rows show the new mtimes).

    .venv/bin/python benchmarks/bench_library.py [--files 100000] [--first 100000] [--dir /tmp/mmvideo-lib]

``--first N`` < ``--files``: the timed first run covers the first N files (a real first run costs ~16-47 ms
a file on this shared machine, mostly fsync: 100,000 would take one to two hours); the rest get their
results and state rows from an untimed fill run of the same command with fsync turned off (``FILL``), so the
reruns see the whole library as a real first run leaves it. ``--synthesize`` instead (or after an
interrupted fill, with ``--reuse``) writes what that run would leave for every file without a state row:
its failed video row and remembered content id in the state store and its video row in one compacted
Parquet file (through the compaction journal), in seconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import time
from pathlib import Path

from measure import MMVIDEO, PEAK, command, load

REPO = Path(__file__).resolve().parents[1]
PER_DIR = 1000
FILL = """
import os, sys
os.fsync = lambda fd: None  # fill only: results and state as a first run writes them, without the disk flushes
import mmvideo.state as st
_init = st.State.__init__
def init(self, *a, **k):
    _init(self, *a, **k)
    self.db.execute("PRAGMA synchronous=OFF")
st.State.__init__ = init
from mmvideo.cli import main
main(sys.argv[1:])
"""


def generate(lib: Path, n: int) -> float:
    """``n`` tiny non-media .mp4 files with distinct content; returns the seconds it took."""
    t0 = time.monotonic()
    old = time.time() - 3600
    for i in range(n):
        folder = lib / f"d{i // PER_DIR:04d}"
        if i % PER_DIR == 0:
            folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"clip{i:06d}.mp4"
        with open(path, "wb") as fh:
            fh.write(b"not a video %d\n" % i)
        os.utime(path, (old, old))
    return time.monotonic() - t0


def timed(args: list[str], fill: bool = False) -> tuple[float, float, int]:
    """Run ``mmvideo args`` in a fresh interpreter (``FILL``'s fsync-free run when ``fill``): wall s, peak RSS MB,
    exit code."""
    wall, peak, rc, _ = command(args, PEAK + FILL if fill else MMVIDEO)
    return wall, peak, rc


def after_touch(out: Path, since_ns: int) -> tuple[int, dict]:
    """How many ``file_ids`` rows were (re)written for files modified after ``since_ns``; the last run's row."""
    db = sqlite3.connect(out / ".mmvideo" / "state.sqlite")
    db.row_factory = sqlite3.Row
    try:
        hashed = db.execute("SELECT count(*) FROM file_ids WHERE mtime_ns > ?", (since_ns,)).fetchone()[0]
        return hashed, dict(db.execute("SELECT * FROM runs ORDER BY run_id DESC LIMIT 1").fetchone())
    finally:
        db.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--first", type=int, default=None, help="files in the timed first run (default: all)")
    ap.add_argument("--dir", default=os.environ.get("MMVIDEO_BENCH_LIB", "/tmp/mmvideo-lib"))
    ap.add_argument("--reuse", action="store_true", help="keep the library and first run of an earlier call")
    ap.add_argument("--synthesize", action="store_true", help="synthesize the first run's results beyond --first")
    args = ap.parse_args()
    root = Path(args.dir)
    lib, out = root / "lib", root / "out"
    run = ["run", "--out", str(out), "--format", "parquet", "--log-format", "plain", "--quiet"]
    if not (args.reuse and (out / ".mmvideo" / "state.sqlite").exists()):
        first_runs(root, lib, run, args.files, args.first or args.files, fill=not args.synthesize)
    if args.synthesize:
        t0 = time.monotonic()
        n = synthesize(lib, out)
        print(f"  synthesized the first run's results for {n} files: {time.monotonic() - t0:.1f} s", flush=True)
    parts = sum(1 for p in (out / "parquet" / "segments").iterdir() if not p.name.startswith("compact-"))
    wall, rss, rc = timed(["compact", str(out)])  # what the first run's end does when it wrote >= 1,000 parts
    print(f"mmvideo compact after the first run(s), {parts} per-video parts: {wall:.1f} s, peak RSS {rss:.0f} MB, "
          f"exit {rc} ({load()})", flush=True)
    reruns(lib, out, run, args.files)


def first_runs(root: Path, lib: Path, run: list[str], files: int, first: int, fill: bool = True) -> None:
    """Generate the library and run over it the first time (``first`` files timed, the rest filled)."""
    shutil.rmtree(root, ignore_errors=True)
    print(f"generating {files} files: {generate(lib, files):.1f} s", flush=True)
    folders = sorted(lib.iterdir())
    head = [str(f) for f in folders[: (first + PER_DIR - 1) // PER_DIR]]
    first = sum(len(os.listdir(f)) for f in head)  # whole folders
    wall, rss, rc = timed(["run", *head, *run[1:]])
    print(f"first run, {first} files (all fail at probe: error records): {wall:.1f} s, "
          f"{wall / first * 1000:.2f} ms/file, peak RSS {rss:.0f} MB, exit {rc} ({load()})", flush=True)
    if first < files and fill:
        wall, rss, rc = timed(["run", str(lib), *run[1:]], fill=True)
        print(f"  fill run (fsync off, not a measured figure) for the other {files - first} files: "
              f"{wall:.1f} s, peak RSS {rss:.0f} MB", flush=True)


def synthesize(lib: Path, out: Path) -> int:
    """Record every library file without a state row as a run records a file failing at probe; how many."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mmvideo.discover import content_id
    from mmvideo.records import VideoRecord
    from mmvideo.state import ContentIds, State, utc_now
    from mmvideo.write import compact
    from mmvideo.write.schema import VIDEO_SCHEMA, video_row

    state = State(out)
    fp = state.db.execute("SELECT fingerprint FROM runs ORDER BY run_id LIMIT 1").fetchone()[0]
    known = {p for (p,) in state.db.execute("SELECT path FROM videos")}
    error = "invalid data: damaged .mp4 file, ffmpeg cannot parse its container"
    now, rows, ids, videos = utc_now(), [], ContentIds(state), []
    for folder in sorted(lib.iterdir()):
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            if entry.path in known:
                continue
            cid = content_id(entry.path)
            ids.store(entry.path, entry.stat(), cid)
            rows.append((cid, entry.path, fp, "failed", "probe", error, 1, now))
            if (out / "parquet" / "videos" / f"{cid}.parquet").exists():  # written by a fill killed before its commit
                continue
            videos.append(video_row(VideoRecord(cid, entry.path, "failed", fingerprint=fp, stage="probe",
                                                error=error, processed_at=now)))
    ids.flush()
    seg_schema = pq.read_schema(next(p for p in (out / "parquet" / "segments").iterdir()
                                     if p.name.endswith(".parquet")))
    name = f"compact-{compact.read_manifest(out)['generation'] + 1:06d}-9999.parquet"
    rename = []
    for table, data, per in (("videos", pa.Table.from_pylist(videos, schema=VIDEO_SCHEMA), 1),
                             ("segments", seg_schema.empty_table(), 0)):
        hidden = f"parquet/{table}/.{name}.cmp-synth"
        compact._write_hidden(out / hidden, data, [(v["video_id"], per) for v in videos])
        rename.append((hidden, f"parquet/{table}/{name}"))
    compact._swap(out, compact.read_manifest(out)["files"] + [name], [{"remove": [], "rename": rename}])
    with state.db:
        state.db.execute("BEGIN")
        state.db.executemany("INSERT INTO videos (video_id, path, fingerprint, status, stage, error, attempts, "
                             "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    state.close()
    return len(rows)


def reruns(lib: Path, out: Path, run: list[str], files: int) -> None:
    """Time the reruns: nothing changed (3 times), the ``--rehash`` baseline, 10 files changed; then status."""
    walls, peaks = [], []
    for _ in range(3):
        wall, rss, rc = timed(["run", str(lib), *run[1:]])
        walls.append(wall)
        peaks.append(rss)
        print(f"rerun, nothing changed: {wall:.2f} s total, {wall / files * 1e6:.0f} us/file, peak RSS {rss:.0f} MB, "
              f"exit {rc} ({load()})", flush=True)
    print(f"  best {min(walls):.2f} s, median {statistics.median(walls):.2f} s, peak RSS {max(peaks):.0f} MB", flush=True)
    wall, rss, rc = timed(["run", str(lib), *run[1:], "--rehash"])
    print(f"baseline: rerun --rehash (every file read, as before): {wall:.2f} s total, {wall / files * 1e6:.0f} us/file, "
          f"peak RSS {rss:.0f} MB, exit {rc} ({load()})", flush=True)
    since = time.time_ns() - 10**9
    for i in range(10):  # new content (so each gets a new content id and is processed), spread over the library
        n = i * (files // 10) + 7
        with open(lib / f"d{n // PER_DIR:04d}" / f"clip{n:06d}.mp4", "ab") as fh:
            fh.write(b"touched\n")
    time.sleep(2.1)  # past state.HOT_NS: files modified in the last 2 s are hashed but not remembered
    wall, rss, rc = timed(["run", str(lib), *run[1:]])
    hashed, last = after_touch(out, since)
    print(f"rerun after touching 10 files: {wall:.2f} s, peak RSS {rss:.0f} MB, exit {rc}; files hashed again: "
          f"{hashed}; processed: {last['done'] + last['failed']} (skipped {last['skipped']}) ({load()})", flush=True)
    walls, peaks = [], []
    for _ in range(3):
        wall, rss, _ = timed(["status", str(out)])
        walls.append(wall)
        peaks.append(rss)
    print(f"mmvideo status ({files} files recorded): best {min(walls):.2f} s, median {statistics.median(walls):.2f} s "
          f"wall, peak RSS {max(peaks):.0f} MB ({load()})", flush=True)


if __name__ == "__main__":
    main()
