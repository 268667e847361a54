"""The guards themselves, tested: nothing leaves the machine.

192.0.2.1 is in TEST-NET-1, an address for documentation that nothing
answers: and the guards refuse it before a byte is sent.

    python3 -m pytest test_loopback_only.py
"""

import socket

import pytest
from pytest_socket import SocketConnectBlockedError

OUTSIDE = ("192.0.2.1", 80)


# --8<-- [start:tests]
def test_connect_elsewhere_is_refused():  # by pytest-socket
    with pytest.raises(SocketConnectBlockedError):
        socket.create_connection(OUTSIDE, timeout=1)


def test_connect_ex_elsewhere_is_refused():  # by conftest.py's guard
    with (
        socket.socket() as tcp,
        pytest.raises(RuntimeError, match="loopback only"),
    ):
        tcp.connect_ex(OUTSIDE)


@pytest.mark.parametrize("address", [OUTSIDE, ("example.com", 80)])
def test_a_datagram_elsewhere_is_refused(address):  # by the guard too
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
        pytest.raises(RuntimeError, match="loopback only"),
    ):
        udp.sendto(b"hello?", address)


def test_loopback_is_allowed():
    with socket.create_server(("127.0.0.1", 0)) as server:
        address = server.getsockname()
        with socket.create_connection(address, timeout=1):
            server.accept()[0].close()
        with socket.socket() as tcp:
            assert tcp.connect_ex(address) == 0
            server.accept()[0].close()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        udp.settimeout(1)
        udp.sendto(b"hello", udp.getsockname())  # to itself
        assert udp.recvfrom(100)[0] == b"hello"


# --8<-- [end:tests]
