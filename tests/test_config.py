"""Launch files and their dataclasses (rtvos/config.py)."""

from pathlib import Path

import pytest

from rtvos.config import ConfigError, RunConfig, load_launch
from rtvos.transport import check_endpoint

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "launch").glob("*.toml")))
def test_shipped_launch_files_load(name):
    cfg = load_launch(REPO / "launch" / name)
    from rtvos.models import MODELS

    assert cfg.model.name in MODELS
    check_endpoint(cfg.endpoints.publish, cfg.endpoints.allow_remote)


def test_unknown_keys_are_named(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[source]\nspce = 'synthetic'\n")
    with pytest.raises(ConfigError, match="spce"):
        load_launch(p)
    p.write_text("[sauce]\n")
    with pytest.raises(ConfigError, match="sauce"):
        load_launch(p)


def test_config_roundtrips_through_dict():
    cfg = RunConfig()
    cfg.model.options = {"height": 256}
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
