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


def test_paths_in_a_launch_file_are_relative_to_it(tmp_path, monkeypatch):
    (tmp_path / "launch").mkdir()
    p = tmp_path / "launch" / "field.toml"
    p.write_text('[source]\nspec = "mcap:../rec/drive.mcap"\ntarget_mask = "first.png"\nprofile = "clahe"\n'
                 'calibration = "/etc/cam.yaml"\n[monitor]\nstats_json = "out/s.json"\n[record]\nmcap = "r.mcap"\n')
    monkeypatch.chdir("/")  # where the command runs does not matter
    cfg = load_launch(p)
    here = tmp_path / "launch"
    assert cfg.source.spec == f"mcap:{here / '../rec/drive.mcap'}"
    assert cfg.source.target_mask == str(here / "first.png")
    assert cfg.source.profile == "clahe"              # a profile name, not a path
    assert cfg.source.calibration == "/etc/cam.yaml"  # absolute paths stay
    assert cfg.monitor.stats_json == str(here / "out/s.json") and cfg.record.mcap == str(here / "r.mcap")
    for spec in ("synthetic", "synthetic:320x240", "camera:0", "0", "synthetic-thermal"):
        p.write_text(f'[source]\nspec = "{spec}"\n')
        assert load_launch(p).source.spec == spec  # nothing to rebase


def test_the_davis_replay_launch_file_finds_its_data_from_anywhere(monkeypatch):
    monkeypatch.chdir("/")
    spec = load_launch(REPO / "launch" / "davis_replay.toml").source.spec
    assert Path(spec.partition(":")[2]).resolve() == (REPO.parent / "shared/data/davis2016-train/JPEGImages/480p/bear").resolve()
