from pathlib import Path

import pytest

from rtvos.config import ConfigError, RunConfig, load_launch
from rtvos.transport import EndpointError, check_endpoint

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "launch").glob("*.toml")))
def test_shipped_launch_files_load(name):
    cfg = load_launch(REPO / "launch" / name)
    from rtvos.segmenters import available

    assert cfg.model.name in available()
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


@pytest.mark.parametrize("ep", ["tcp://127.0.0.1:5555", "tcp://localhost:1", "ipc:///tmp/x.sock", "tcp://[::1]:9"])
def test_loopback_endpoints_allowed(ep):
    assert check_endpoint(ep) == ep


@pytest.mark.parametrize("ep", ["tcp://0.0.0.0:5555", "tcp://*:5555", "tcp://192.168.1.4:5555"])
def test_remote_endpoints_need_permission(ep):
    with pytest.raises(EndpointError, match="allow_remote"):
        check_endpoint(ep)
    assert check_endpoint(ep, allow_remote=True) == ep


def test_malformed_endpoint():
    with pytest.raises(EndpointError):
        check_endpoint("udp://127.0.0.1:5")
    with pytest.raises(EndpointError, match="port"):
        check_endpoint("tcp://127.0.0.1:http")


def test_sizes_are_parsed_in_the_order_written_and_errors_say_which_order():
    from rtvos.sizes import parse_size

    assert parse_size("640x480") == (640, 480)
    assert parse_size(" 480X854 ", "HxW") == (480, 854)
    for bad in ("640", "640x", "0x480", "-1x4", "axb", "1x2x3"):
        with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
            parse_size(bad)
    with pytest.raises(ValueError, match="HEIGHTxWIDTH"):
        parse_size("480", "HxW")
