"""Opening a source from a spec (rtvos/sources/__init__.py)."""

from __future__ import annotations

import pytest
from test_sources_folder import _write_sequence

from rtvos.sources import SourceError, open_source
from rtvos.sources.synthetic import SyntheticSource


def test_open_source_parsing(tmp_path):
    s = open_source("synthetic:160x120", frames=4)
    frames = list(s.frames())
    assert len(frames) == 4 and frames[0].image.shape == (120, 160, 3)
    s = open_source("synthetic", width=96, height=64, frames=2, seed=5)
    assert isinstance(s, SyntheticSource) and next(iter(s.frames())).image.shape == (64, 96, 3)

    img_dir, _ = _write_sequence(tmp_path)
    limited = open_source(f"folder:{img_dir}", frames=2)
    assert len(list(limited.frames())) == 2
    assert open_source(str(img_dir)).name == "toy"  # bare directory -> folder

    with pytest.raises(SourceError, match="valid forms"):
        open_source("bogus:thing")
    with pytest.raises(SourceError, match="valid forms"):
        open_source("folder:")
    with pytest.raises(SourceError, match="WxH"):
        open_source("synthetic:big")
    with pytest.raises(SourceError, match="no camera"):
        open_source("camera:97")
