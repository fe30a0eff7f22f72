"""What one run's stages share: the endpoints they talk over (`Links`), and what makes them one run
(`Run`: the private directory, the token every internal message carries, the supervisor's pid, the
source's frame size)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Links:
    frames: str     # capture PUSH -> infer PULL (infer binds)
    results: str    # infer PUSH -> publish PULL (publish binds)
    stats: str      # every stage PUSH -> supervisor PULL (supervisor binds)
    publish: str    # publish PUB (public mask + stats topic)
    allow_remote: bool = False
    control: str | None = None  # infer ROUTER (target changes); None = no control socket
    control_keys: str | None = None  # CURVE keys folder for a control socket off this host (rtvos keys)


@dataclass(frozen=True)
class Run:
    """Handed to the stages in the environment (RTVOS_RUN), not on the command line: other users can
    read command lines, not environments. `dir` is the run's private directory (mode 0700: ipc
    endpoints, the kept target); `frame_hw` the source's frame size (engines are built for it before
    the model reports ready); `first_seq` where a restarted capture stage resumes."""

    token: str
    dir: str
    supervisor_pid: int
    frame_hw: tuple[int, int] | None = None
    first_seq: int = 0
    restarts: int = 0  # how many instances of this stage came before this one

    ENV = "RTVOS_RUN"

    def environ(self) -> dict[str, str]:
        return {**os.environ, self.ENV: json.dumps(asdict(self))}

    @classmethod
    def from_environ(cls) -> "Run":
        data = json.loads(os.environ[cls.ENV])
        if data.get("frame_hw") is not None:
            data["frame_hw"] = tuple(data["frame_hw"])
        return cls(**data)

    @property
    def target_path(self) -> str:
        """Where the infer stage keeps the current target, for its successor after a crash."""
        return os.path.join(self.dir, "target.png")

    @property
    def latency_series_path(self) -> str:
        """Where the publish stage leaves the per-frame latencies at its end, for the run's statistics."""
        return os.path.join(self.dir, "latency_series.json")
