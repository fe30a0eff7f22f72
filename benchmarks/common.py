"""What the benchmark scripts share: where the repository is, a free port, writing a result file with
when and where it was measured, and the name of a model with its own options."""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_results(path: str | Path, results: dict) -> None:
    """`results` as JSON at `path`, after the date, the machine and its core count."""
    out = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": platform.node(),
           "cpus": os.cpu_count(), **results}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(out, indent=2))
    print(f"written {path}", file=sys.stderr)


def setting_name(model: str, options: dict) -> str:
    """`model` or `model@key=value...` (sorted; the engine's precision and the progress bar left out; numbers
    in one spelling, so 3e-4 as typed and 0.0003 as parsed name the same setting): how backends.py takes a
    model with its own options and how results are joined on them."""
    return "@".join([model, *(f"{k}={option_value(v)}" for k, v in sorted(options.items())
                               if k not in ("precision", "progress"))])


def option_value(value) -> str:
    """An option's value as a setting's name spells it: numbers by `g` (2, 0.5, 0.0003), the rest as text."""
    if isinstance(value, bool):
        return str(value).lower()
    try:
        return f"{float(value):g}"
    except (TypeError, ValueError):
        return str(value)
