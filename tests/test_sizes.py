"""The one size parser (rtvos/sizes.py): WIDTHxHEIGHT everywhere."""

import pytest


def test_sizes_are_width_by_height_and_errors_say_so():
    from rtvos.sizes import parse_size

    assert parse_size("640x480") == (640, 480)
    assert parse_size(" 854X480 ") == (854, 480)
    for bad in ("640", "640x", "0x480", "-1x4", "axb", "1x2x3"):
        with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
            parse_size(bad)


def test_bench_and_export_take_width_by_height():
    from rtvos.cli import _frame_hw, build_parser

    for cmd in ("bench", "export"):
        args = build_parser().parse_args([cmd, "--size", "854x480"])
        assert _frame_hw(args.size) == (480, 854)
    assert build_parser().parse_args(["bench"]).size == "854x480"
