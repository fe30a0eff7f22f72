"""The endpoints one run's stages talk over (the supervisor picks them; every stage gets them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Links:
    frames: str     # capture PUSH -> infer PULL (infer binds)
    results: str    # infer PUSH -> publish PULL (publish binds)
    stats: str      # every stage PUSH -> supervisor PULL (supervisor binds)
    publish: str    # publish PUB (public mask + stats topic)
    allow_remote: bool = False
    control: str | None = None  # infer REP (target changes); None = no control socket
