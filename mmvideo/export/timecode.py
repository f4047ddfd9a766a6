"""SMPTE timecodes from presentation times: frames at a video's rate, drop-frame where the rate calls for it.

Drop-frame (29.97 and 59.94 fps, the NTSC rates) skips frame numbers 0 and 1 (0-3 at 59.94) at the start of
every minute except each tenth, so the timecode stays within 2 frames of the wall clock; its separator is ';'.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from mmvideo.errors import ParameterError

#: common rates a float average rate is snapped to (PAL, film, NTSC and their doubles)
STANDARD_RATES = (Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30),
                  Fraction(48), Fraction(50), Fraction(60000, 1001), Fraction(60))


@dataclass(frozen=True)
class Rate:
    """A frame rate for timecodes: ``fps`` exact, ``base`` the nominal frames per timecode second."""

    fps: Fraction

    @property
    def base(self) -> int:
        return round(self.fps)

    @property
    def drop_frame(self) -> bool:
        """True for the NTSC rates (30000/1001 and 60000/1001), which count in drop-frame timecode."""
        return self.fps.denominator == 1001 and self.base in (30, 60)


def rate_of(fps: float | None, default: float = 25.0) -> Rate:
    """A ``Rate`` from a stream's average fps, snapped to a standard rate within 0.1 % (``default`` when None)."""
    value = Fraction(fps if fps and fps > 0 else default).limit_denominator(1001)
    for std in STANDARD_RATES:
        if abs(float(value) - float(std)) <= float(std) * 1e-3:
            return Rate(std)
    if value <= 0:
        raise ParameterError(f"frame rate must be > 0. Received: fps={fps!r}")
    return Rate(Fraction(round(float(value) * 1000), 1000))


def frames_at(seconds: float, rate: Rate) -> int:
    """The frame number shown at ``seconds`` (>= 0) at ``rate``: floor, with a microsecond of slack."""
    if seconds < 0:
        raise ParameterError(f"seconds must be >= 0. Received: seconds={seconds}")
    return int((Fraction(seconds).limit_denominator(10**6) * rate.fps) + Fraction(1, 10**6))


def timecode(frame: int, rate: Rate) -> str:
    """``HH:MM:SS:FF`` (``HH:MM:SS;FF`` drop-frame) of frame number ``frame`` (>= 0) at ``rate``."""
    if frame < 0:
        raise ParameterError(f"frame must be >= 0. Received: frame={frame}")
    base = rate.base
    if rate.drop_frame:
        drop = 2 * base // 30  # 2 at 29.97, 4 at 59.94
        per_10min = base * 600 - drop * 9
        per_min = base * 60 - drop
        tens, rest = divmod(frame, per_10min)
        frame += drop * 9 * tens + (drop * ((rest - drop) // per_min) if rest > drop else 0)
    ff = frame % base
    ss = frame // base % 60
    mm = frame // (base * 60) % 60
    hh = frame // (base * 3600) % 24
    return f"{hh:02d}:{mm:02d}:{ss:02d}{';' if rate.drop_frame else ':'}{ff:02d}"


def clock(seconds: float, sep: str = ".") -> str:
    """``HH:MM:SS.mmm`` for WebVTT (``sep=","`` for SRT) of ``seconds`` >= 0."""
    ms = int(round(max(0.0, seconds) * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"
