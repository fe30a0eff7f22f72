import functools
import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DAVIS_ROOT = Path(os.environ.get("RTVOS_DAVIS_ROOT", REPO.parent / "shared" / "data" / "davis2016-train"))


@pytest.fixture(autouse=True, scope="session")
def private_run_files(tmp_path_factory):
    """Run files (how `rtvos ctl` finds a run by its topic) go to a folder of this test session, inherited
    by the pipelines the tests start: a run file left by a killed run elsewhere, or by an earlier test on
    a port the system hands out again, cannot answer for a topic here."""
    previous = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = str(tmp_path_factory.mktemp("runtime"))
    yield
    if previous is None:
        os.environ.pop("XDG_RUNTIME_DIR", None)
    else:
        os.environ["XDG_RUNTIME_DIR"] = previous


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


@pytest.fixture(scope="session")
def davis_frames():
    """`davis_frames(sequence, indices)`: [(RGB frame, label mask), ...] of the DAVIS data, loaded once."""
    if not (DAVIS_ROOT / "JPEGImages" / "480p").is_dir():
        pytest.skip(f"DAVIS data not found at {DAVIS_ROOT} (set RTVOS_DAVIS_ROOT)")
    from rtvos.evaluation.davis import DavisDataset

    dataset = DavisDataset(DAVIS_ROOT)

    @functools.lru_cache(maxsize=None)
    def load(name: str, indices: tuple[int, ...]):
        seq = dataset.sequence(name)
        return [(seq.load_frame(i), seq.load_mask(i)) for i in indices]

    return lambda name, indices: load(name, tuple(indices))
