"""Helpers several test files share: a tiny DAVIS-layout dataset written on the spot (a square moving
right), a striped disc that moves (and jumps) over a textured background (also as a DAVIS-layout
sequence), taking the first frames of a source, and the `rtvos` command run as its own process."""

import contextlib
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from rtvos.sources import Frame, Source

H, W = 40, 60

RTVOS = [sys.executable, "-m", "rtvos"]  # the command line, as a user runs it
FAST_MODEL = ["--option", "height=192", "--option", "augmentations=3"]  # the default model, smaller and quicker to start


@contextlib.contextmanager
def rtvos_process(args: list[str], stderr=subprocess.PIPE):
    """`rtvos ARGS` started in the background (stderr as text, piped unless told otherwise); killed on
    the way out if the test left it running."""
    run = subprocess.Popen(RTVOS + args, stderr=stderr, text=True)
    try:
        yield run
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()


def interrupt(run: subprocess.Popen, timeout: float = 30) -> str:
    """Ctrl-C to a running `rtvos`, as a user stops it: its stderr once it has exited."""
    run.send_signal(signal.SIGINT)
    return run.communicate(timeout=timeout)[1]


def square_mask(i: int) -> np.ndarray:
    """0/255 annotation of frame i: a 10x10 square moving right by 2 px a frame."""
    m = np.zeros((H, W), dtype=np.uint8)
    m[10:20, 10 + 2 * i : 20 + 2 * i] = 255
    return m


def write_davis_sequence(root: Path, name: str, frames) -> None:
    """Sequence `name` of a DAVIS-layout root: `frames` are (RGB image, 0/255 annotation) pairs."""
    (root / "JPEGImages/480p" / name).mkdir(parents=True)
    (root / "Annotations/480p" / name).mkdir(parents=True)
    for i, (image, annotation) in enumerate(frames):
        cv2.imwrite(str(root / "JPEGImages/480p" / name / f"{i:05d}.jpg"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(root / "Annotations/480p" / name / f"{i:05d}.png"), annotation)


def make_fake_root(root: Path, names=("perfect", "empty"), n_frames=4) -> Path:
    for name in names:
        write_davis_sequence(root, name, [(np.full((H, W, 3), 40 * i, dtype=np.uint8), square_mask(i))
                                          for i in range(n_frames)])
    return root


def take(source: Source, n: int) -> list[Frame]:
    """The first `n` frames of `source` (its generator closed after them)."""
    out = []
    gen = source.frames()
    for f in gen:
        out.append(f)
        if len(out) >= n:
            break
    gen.close()
    return out


def striped_disc_scene(centres, h: int = 360, w: int = 640, r: int = 30) -> list[tuple[np.ndarray, np.ndarray]]:
    """(frame, mask) pairs of a striped disc over a smooth textured background, the disc at each of
    `centres` (x, y): a target that can move smoothly or jump far."""
    rng = np.random.default_rng(0)
    bg = cv2.GaussianBlur(rng.integers(0, 255, (h, w, 3)).astype(np.uint8), (0, 0), 6)
    bg = cv2.addWeighted(bg, 0.6, np.full_like(bg, (90, 120, 80)), 0.4, 0)
    yy, xx = np.mgrid[:h, :w]
    disc = np.where((((xx + yy) // 8) % 2)[..., None] == 1, np.uint8([255, 140, 0]), np.uint8([30, 60, 220]))
    out = []
    for cx, cy in centres:
        mask = np.zeros((h, w), np.uint8)
        cv2.circle(mask, (cx, cy), r, 1, -1)
        image = bg.copy()
        image[mask > 0] = disc[mask > 0]
        out.append((image, mask))
    return out


def disc_davis_root(root: Path, n_frames: int = 8, name: str = "disc") -> Path:
    """A DAVIS-layout root with one sequence: the striped disc moving right and down, every frame
    annotated."""
    scene = striped_disc_scene([(150 + 8 * i, 180 + 2 * i) for i in range(n_frames)])
    write_davis_sequence(root, name, [(image, mask * 255) for image, mask in scene])
    return root
