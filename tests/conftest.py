import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DAVIS_ROOT = Path(os.environ.get("RTVOS_DAVIS_ROOT", REPO.parent / "shared" / "data" / "davis2016-train"))


@pytest.fixture
def davis_root() -> Path:
    if not (DAVIS_ROOT / "JPEGImages" / "480p").is_dir():
        pytest.skip(f"DAVIS data not found at {DAVIS_ROOT} (set RTVOS_DAVIS_ROOT)")
    return DAVIS_ROOT


@pytest.fixture
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
