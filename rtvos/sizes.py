"""One parser for the "WxH" sizes users type: every size on the command line and in a launch file is
WIDTHxHEIGHT (640x480, 854x480), as cameras, video files and `synthetic:WxH` say."""

from __future__ import annotations

EXAMPLE = "854x480"


def parse_size(text: str) -> tuple[int, int]:
    """(width, height) from "WIDTHxHEIGHT"; raises ValueError saying what was expected."""
    try:
        w, h = (int(v) for v in str(text).strip().lower().split("x"))
    except ValueError:
        w = h = 0
    if w <= 0 or h <= 0:
        raise ValueError(f"size must be WIDTHxHEIGHT, e.g. {EXAMPLE}; got {text!r}")
    return w, h
