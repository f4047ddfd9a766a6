"""One exact time type: presentation times are ``Fraction`` seconds inside, floats only at output edges."""

from __future__ import annotations

from fractions import Fraction


def pts_to_time(pts: int | None, time_base: Fraction | None) -> Fraction | None:
    """Exact seconds of a presentation timestamp (``pts * time_base``); ``None`` if either is unknown."""
    if pts is None or time_base is None:
        return None
    return Fraction(pts) * Fraction(time_base)


def to_seconds(t: Fraction | float | None) -> float | None:
    """Float seconds for output (JSON, Parquet, tables); ``None`` stays ``None``."""
    return None if t is None else float(t)
