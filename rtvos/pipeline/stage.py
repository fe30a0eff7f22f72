"""Entry point of one stage process: `python -m rtvos.pipeline.stage STAGE --config JSON --links JSON`.

The supervisor starts each stage this way (plain OS processes, configuration as JSON, no pickle); the
same command starts a stage by hand, e.g. to run inference on another host.
"""

from __future__ import annotations

import argparse
import json

from rtvos.config import RunConfig
from rtvos.messages import STAGES
from rtvos.pipeline.links import Links


def running_stages(marker: str = "") -> dict[str, int]:
    """{stage name: pid} of the stage processes running on this machine (Linux /proc) whose command
    line contains `marker` (e.g. a run's port); for monitors, benchmarks and tests."""
    from pathlib import Path  # noqa: PLC0415

    found = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            args = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if __spec__.name.encode() in args and marker.encode() in b" ".join(args):
            i = args.index(__spec__.name.encode())
            if i + 1 < len(args):
                found[args[i + 1].decode(errors="replace")] = int(d.name)
    return found


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rtvos.pipeline.stage")
    ap.add_argument("stage", choices=STAGES)
    ap.add_argument("--config", required=True, help="RunConfig as JSON")
    ap.add_argument("--links", required=True, help="Links as JSON")
    args = ap.parse_args(argv)
    cfg = RunConfig.from_dict(json.loads(args.config), origin="--config")
    links = Links(**json.loads(args.links))
    if args.stage == "capture":
        from rtvos.pipeline.capture import Capture as stage
    elif args.stage == "infer":
        from rtvos.pipeline.infer import Infer as stage
    else:
        from rtvos.pipeline.publish import Publish as stage
    from rtvos.pipeline.runtime import StageRuntime  # noqa: PLC0415

    return StageRuntime(stage(cfg, links)).run()


if __name__ == "__main__":
    raise SystemExit(main())
