"""What the benchmarks measure a command with: wall, CPU, memory of a process tree, and the load beside them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Measured:
    """One measured run: wall seconds, CPU seconds of the whole process tree, peak summed RSS (MB)."""

    wall: float
    cpu: float
    peak_mb: float


def load() -> str:
    """The load averages, to print beside a figure taken on a shared machine."""
    return "load " + "/".join(f"{x:.1f}" for x in os.getloadavg())


def tree_rss_mb(root: int, include_root: bool = True) -> float:
    """Summed RSS (MB) of ``root``'s descendants, and of ``root`` itself unless ``include_root`` is False
    (from /proc)."""
    parent: dict[int, int] = {}
    rss: dict[int, float] = {}
    page = os.sysconf("SC_PAGE_SIZE") / 2**20
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                parent[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/statm") as fh:
                rss[int(entry)] = int(fh.read().split()[1]) * page
        except (OSError, ValueError, IndexError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == p and c not in tree]
        tree.update(kids)
        frontier += kids
    if not include_root:
        tree.discard(root)
    return sum(rss.get(p, 0.0) for p in tree)


#: prepended to a ``python -c`` program: at exit it writes its own peak RSS (``VmHWM``, KiB) to a pipe
PEAK = """
import atexit, os, sys
def _peak():
    with open("/proc/self/status") as fh:
        hwm = next(line for line in fh if line.startswith("VmHWM:"))
    os.write(int(os.environ["MMVIDEO_BENCH_PEAK_FD"]), hwm.split()[1].encode())
atexit.register(_peak)
"""
#: ``mmvideo ARGS`` with its peak reported
MMVIDEO = PEAK + "from mmvideo.cli import main\nmain(sys.argv[1:])\n"


def command(args: list[str], code: str = MMVIDEO, capture: bool = False) -> tuple[float, float, int, str]:
    """``mmvideo args`` (or ``python -c code args``) in a fresh interpreter: wall s, peak RSS MB (the child's own
    ``VmHWM``: ``ru_maxrss`` of a child counts the parent's pages from before its exec), exit code, and stdout
    when ``capture``."""
    rfd, wfd = os.pipe()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO,
                            stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, text=True, pass_fds=(wfd,),
                            env={**os.environ, "MMVIDEO_BENCH_PEAK_FD": str(wfd)})
    os.close(wfd)
    stdout = proc.stdout.read() if capture else ""  # type: ignore[union-attr]
    _, status, _ = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    peak = os.read(rfd, 64)
    os.close(rfd)
    return wall, int(peak or 0) / 1024, os.waitstatus_to_exitcode(status), stdout
