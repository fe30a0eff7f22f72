"""Endpoints: loopback unless allowed (rtvos/transport.py)."""

import pytest

from rtvos.transport import EndpointError, check_endpoint


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
