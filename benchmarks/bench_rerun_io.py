"""What a rerun reads per unchanged large file: 300 files of 40 MB, page cache dropped before each rerun.

Files are sparse 40 MB files with 1 MiB of random data where the content id samples (start, middle, end), so
each differs and the samples are real disk reads. A first ``run_local`` (a stand-in analyzer that records
each file as failed: no models) fills the output folder; then each rerun is timed in this process around
``run_local`` alone (no interpreter start-up) with ``/proc/self/io`` before and after: baseline ``rehash=True``
(every file hashed, as every rerun did before) and the default (content ids reused). Before each rerun the
page cache is dropped (``echo 3 > /proc/sys/vm/drop_caches`` as root); where that is refused (containers),
each library file is evicted with ``posix_fadvise(DONTNEED)`` instead and the script says so.
Goal: under 1 ms and under 64 KiB read per unchanged file.

    .venv/bin/python benchmarks/bench_rerun_io.py [--files 300] [--mb 40] [--dir /tmp/mmvideo-io]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mmvideo.config import RunConfig  # noqa: E402
from mmvideo.engines.local import run_local  # noqa: E402
from mmvideo.errors import MediaError  # noqa: E402
from mmvideo.progress import Reporter  # noqa: E402

MIB = 1 << 20


class Refuses:
    """Stand-in analyzer: every file fails at probe (its record is written as in a real run)."""

    fingerprint = "bench-fp"
    encoder_fingerprint = "bench-fp"

    def analyze(self, video, on_stage):
        raise MediaError(video.path, "not a media file", stage="probe")


def generate(lib: Path, n: int, size: int) -> None:
    lib.mkdir(parents=True, exist_ok=True)
    old = time.time() - 3600
    for i in range(n):
        path = lib / f"big{i:04d}.mp4"
        with open(path, "wb") as fh:
            fh.truncate(size)
            for offset in (0, (size - MIB) // 2, size - MIB):
                fh.seek(offset)
                fh.write(os.urandom(MIB))
        os.utime(path, (old, old))


def io() -> dict[str, int]:
    with open("/proc/self/io") as fh:
        return {k: int(v) for k, v in (line.split(": ") for line in fh)}


def drop_caches(lib: Path) -> str:
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as fh:
            fh.write("3\n")
        return "drop_caches"
    except OSError:
        for p in lib.iterdir():
            fd = os.open(p, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
        return "posix_fadvise(DONTNEED) per file (drop_caches refused here)"


def rerun(lib: Path, out: Path, n: int, label: str, rehash: bool) -> None:
    how = drop_caches(lib)
    before, t0 = io(), time.perf_counter()
    summary = run_local([lib], out, RunConfig(), Refuses(), Reporter(quiet=True), rehash=rehash)
    seconds, after = time.perf_counter() - t0, io()
    print(f"{label}: {seconds / n * 1000:.2f} ms/file, rchar {(after['rchar'] - before['rchar']) / n / 1024:.1f} "
          f"KiB/file, read_bytes {(after['read_bytes'] - before['read_bytes']) / n / 1024:.1f} KiB/file "
          f"(skipped {summary.skipped}/{n}; cache dropped with {how})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--mb", type=int, default=40)
    ap.add_argument("--dir", default=os.environ.get("MMVIDEO_BENCH_IO", "/tmp/mmvideo-io"))
    args = ap.parse_args()
    root = Path(args.dir)
    shutil.rmtree(root, ignore_errors=True)
    lib, out = root / "lib", root / "out"
    t0 = time.perf_counter()
    generate(lib, args.files, args.mb * MIB)
    print(f"{args.files} files of {args.mb} MB (sparse, 3 MiB real each): {time.perf_counter() - t0:.1f} s",
          flush=True)
    run_local([lib], out, RunConfig(), Refuses(), Reporter(quiet=True))
    for _ in range(2):
        rerun(lib, out, args.files, "baseline: rerun with rehash=True (every file hashed, as before)", True)
        rerun(lib, out, args.files, "rerun, content ids reused", False)
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
