"""Entry point of one stage process: `python -m rtvos.pipeline.stage STAGE --config JSON --links JSON`, with
the run (`links.Run`) in the environment.

The supervisor starts each stage this way (plain OS processes, configuration as JSON, no pickle).
Before anything slow is imported, the process arranges to die with the supervisor (PR_SET_PDEATHSIG)
and leaves at once if the supervisor is already gone, so no stage outlives it.
"""

import ctypes
import os
import signal

PR_SET_PDEATHSIG = 1
SUPERVISOR_GONE = 4  # exit code of a stage whose supervisor died before it got going


def die_with_the_supervisor(supervisor_pid: int | None) -> None:
    """SIGTERM when the parent dies; and if it died before this call, exit now."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass
    if supervisor_pid is not None and os.getppid() != supervisor_pid:
        os._exit(SUPERVISOR_GONE)


if __name__ == "__main__":  # first thing, before the imports below (numpy, OpenCV, ZeroMQ take a while)
    import json as _json

    die_with_the_supervisor(_json.loads(os.environ.get("RTVOS_RUN", "{}")).get("supervisor_pid"))

import argparse  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

from rtvos.config import RunConfig  # noqa: E402
from rtvos.messages import STAGES  # noqa: E402
from rtvos.pipeline.links import Links, Run  # noqa: E402


def running_stages(marker: str = "") -> dict[str, int]:
    """{stage name: pid} of the stage processes running on this machine (Linux /proc) whose command
    line contains `marker` (e.g. a run's port); for monitors, benchmarks and tests."""
    found = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            args = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"rtvos.pipeline.stage" in args and marker.encode() in b" ".join(args):
            i = args.index(b"rtvos.pipeline.stage")
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
    elif args.stage == "record":
        from rtvos.pipeline.record import Record as stage
    else:
        from rtvos.pipeline.publish import Publish as stage
    from rtvos.pipeline.runtime import StageRuntime  # noqa: PLC0415

    return StageRuntime(stage(cfg, links, Run.from_environ())).run()


if __name__ == "__main__":
    raise SystemExit(main())
