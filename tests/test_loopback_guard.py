"""Tests never leave the machine: traffic to any address but loopback is refused.

192.0.2.1 is in TEST-NET-1, reserved for documentation: nothing answers there,
and the guard refuses before anything is sent.
"""

import socket

import pytest
import requests
from pytest_socket import SocketConnectBlockedError

OUTSIDE = ("192.0.2.1", 80)
# Under "warnings are errors", pytest-socket's refusal arrives as a UserWarning
# (raised as an error) or as its own exception: either way, nothing is sent.
REFUSED = (SocketConnectBlockedError, UserWarning)
BLOCKED_MESSAGE = r'tried to use socket\.socket\.connect\(\) with host "192\.0\.2\.1"'


def test_tcp_connect_off_loopback_is_refused():
    with pytest.raises(REFUSED, match=BLOCKED_MESSAGE):
        socket.create_connection(OUTSIDE, timeout=1)


def test_connect_ex_off_loopback_is_refused():
    with socket.socket() as sock, pytest.raises(RuntimeError, match="loopback"):
        sock.connect_ex(OUTSIDE)


def test_udp_datagram_off_loopback_is_refused():
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
        pytest.raises(RuntimeError, match="loopback"),
    ):
        sock.sendto(b"hello?", OUTSIDE)


def test_an_http_library_cannot_reach_out_either():
    with pytest.raises(REFUSED, match=BLOCKED_MESSAGE):
        requests.get("http://192.0.2.1/", timeout=1)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_loopback_is_allowed(host):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.create_server((host, 0), family=family) as server:
        port = server.getsockname()[1]
        with socket.create_connection((host, port), timeout=5):
            conn, _ = server.accept()
            conn.close()
