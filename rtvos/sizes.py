"""One parser for the "AxB" sizes users type: frame sizes are WIDTHxHEIGHT (640x480, as cameras and
`synthetic:WxH` say), processing/benchmark sizes HEIGHTxWIDTH (480x854, as tensors are laid out)."""

from __future__ import annotations

EXAMPLES = {"WxH": "640x480", "HxW": "480x854"}
NAMES = {"WxH": "WIDTHxHEIGHT", "HxW": "HEIGHTxWIDTH"}


def parse_size(text: str, order: str = "WxH") -> tuple[int, int]:
    """The two positive integers of "AxB", in the order written; `order` ("WxH" or "HxW") only shapes
    the error message.  Raises ValueError saying what was expected."""
    if order not in NAMES:
        raise ValueError(f"order must be one of {', '.join(NAMES)}, got {order!r}")
    try:
        a, b = (int(v) for v in str(text).strip().lower().split("x"))
    except ValueError:
        a = b = 0
    if a <= 0 or b <= 0:
        raise ValueError(f"size must be {NAMES[order]}, e.g. {EXAMPLES[order]}; got {text!r}")
    return a, b
