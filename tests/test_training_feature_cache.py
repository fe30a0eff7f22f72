"""The training feature cache (rtvos/training/feature_cache.py): computed once, found again by its key."""

import multiprocessing
import time

import numpy as np
import pytest

from helpers import make_fake_root
from rtvos.models.shared.backbone import PYRAMID_CHANNELS, PYRAMID_TAPS
from rtvos.training import feature_cache
from rtvos.training.feature_cache import build_cache


def test_features_and_masks_of_every_frame_and_variant_are_cached_once(tmp_path, monkeypatch):
    root = make_fake_root(tmp_path / "davis", names=("a", "b"), n_frames=3)
    cache = build_cache(root, ["a", "b"], (64, 96), variants=2, seed=0, cache_dir=tmp_path / "cache",
                        backend="torch", progress=False, taps=PYRAMID_TAPS)
    assert len(cache.masks) == 2 * 3 * 2
    assert cache.f4.shape == (12, PYRAMID_CHANNELS[0], 16, 24) and cache.f16.shape == (12, PYRAMID_CHANNELS[2], 4, 6)
    assert cache.f4.dtype == np.float16 and cache.masks.shape == (12, 64, 96)
    assert [b[:2] for b in cache.blocks] == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    first_a = cache.blocks[0][2]
    assert cache.area[first_a] == pytest.approx(100 * (64 / 40) * (96 / 60), rel=0.1)  # the 10x10 square, resized

    def no_recompute(*args, **kwargs):
        raise AssertionError("the cache was computed again")

    monkeypatch.setattr(feature_cache, "CacheWriter", no_recompute)
    again = build_cache(root, ["a", "b"], (64, 96), variants=2, seed=0, cache_dir=tmp_path / "cache",
                        backend="torch", progress=False, taps=PYRAMID_TAPS)
    assert np.array_equal(again.f8, cache.f8) and again.blocks == cache.blocks
    with pytest.raises(AssertionError, match="computed again"):  # another key: another cache
        build_cache(root, ["a", "b"], (64, 96), variants=3, seed=0, cache_dir=tmp_path / "cache", backend="torch",
                    progress=False, taps=PYRAMID_TAPS)


def test_a_cache_holds_the_features_at_the_taps_asked_for(tmp_path):
    """A trainer that fine-tunes the backbone's last blocks caches the features below them, apart; one on
    Lite2's features caches Lite2's, apart too."""
    from rtvos.models.shared.backbone import LITE0, LITE2

    root = make_fake_root(tmp_path / "davis", names=("a",), n_frames=2)
    kwargs = {"variants": 1, "seed": 0, "cache_dir": tmp_path / "cache", "backend": "torch", "progress": False}
    full = build_cache(root, ["a"], (64, 96), taps=PYRAMID_TAPS, **kwargs)
    below = build_cache(root, ["a"], (64, 96), taps=(2, 4, 7), **kwargs)
    assert below.f16.shape == (2, LITE0.block_channels[7], 4, 6) and full.f16.shape == (2, PYRAMID_CHANNELS[2], 4, 6)
    assert np.array_equal(below.f8, full.f8)
    lite2 = build_cache(root, ["a"], (64, 96), taps=LITE2.pyramid_taps, backbone=LITE2, **kwargs)
    assert [f.shape[1] for f in (lite2.f4, lite2.f8, lite2.f16)] == [24, 48, 120]
    assert len(list((tmp_path / "cache").iterdir())) == 3


def _write_cache(folder, started, seconds):
    """A cache of two random frames through the real writer, announced, and slow to finish."""
    from rtvos.training.feature_cache import CacheWriter

    started.set()
    writer = CacheWriter(folder, 2, (64, 96), "torch", PYRAMID_TAPS)
    rng = np.random.default_rng(0)
    for row in range(2):
        writer.write(row, rng.integers(0, 255, (64, 96, 3), dtype=np.uint8), np.ones((64, 96), np.float32))
    time.sleep(seconds)
    return writer.finish({"test": 1}, [("a", 0, 0, 2)])


def _build_slowly(folder, started, seconds):
    feature_cache.cached_or_built(folder, lambda: _write_cache(folder, started, seconds))


def test_processes_side_by_side_build_a_cache_once(tmp_path, capfd):
    """Trainers of the folds of one cross-validation started together want the same cache: the second
    waits for the first to finish it and loads it, instead of opening its files for writing under it."""
    ctx = multiprocessing.get_context("spawn")  # a fork of a process whose torch threads ran can hang
    folder = tmp_path / "cache" / "crvos-64x96-v1-0123456789ab"
    started = ctx.Event()
    first = ctx.Process(target=_build_slowly, args=(folder, started, 1.5))
    first.start()
    try:
        deadline = time.monotonic() + 300  # spawning and importing torch on a busy machine
        while not started.wait(1):
            assert first.is_alive() and time.monotonic() < deadline, f"the first builder ended: {first.exitcode}"

        def build_again():
            raise AssertionError(f"built a second time (the first builder's exit code: {first.exitcode})")

        t0 = time.monotonic()
        cache = feature_cache.cached_or_built(folder, build_again)
        assert time.monotonic() - t0 > 1.0  # it waited for the first to finish
        first.join(300)
        assert first.exitcode == 0
    finally:
        first.kill()
        first.join()
    assert "waiting for another process" in capfd.readouterr().err
    assert len(cache.masks) == 2 and np.all(cache.masks[:] == 255) and cache.blocks == [("a", 0, 0, 2)]
    assert feature_cache.cached_or_built(folder, build_again) is not None  # complete: loaded, not built


def test_a_failed_build_leaves_the_cache_to_the_next_one(tmp_path):
    folder = tmp_path / "cache" / "crvos-64x96-v1-0123456789ab"

    def fail():
        raise RuntimeError("out of disk")

    with pytest.raises(RuntimeError, match="out of disk"):
        feature_cache.cached_or_built(folder, fail)
    started = multiprocessing.get_context("spawn").Event()
    cache = feature_cache.cached_or_built(folder, lambda: _write_cache(folder, started, 0))  # the lock was let go
    assert len(cache.masks) == 2
