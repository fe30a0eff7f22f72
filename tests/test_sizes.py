"""The one size parser (rtvos/sizes.py)."""

import pytest


def test_sizes_are_parsed_in_the_order_written_and_errors_say_which_order():
    from rtvos.sizes import parse_size

    assert parse_size("640x480") == (640, 480)
    assert parse_size(" 480X854 ", "HxW") == (480, 854)
    for bad in ("640", "640x", "0x480", "-1x4", "axb", "1x2x3"):
        with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
            parse_size(bad)
    with pytest.raises(ValueError, match="HEIGHTxWIDTH"):
        parse_size("480", "HxW")
