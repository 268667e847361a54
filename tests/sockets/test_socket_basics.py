"""Tests of the page "What a socket is" (docs/sockets/basics.md)."""

import ipaddress
import socket

import pytest


def test_getaddrinfo_for_the_loopback_addresses(run_example):
    run_example("sockets/address_lookup.py")


def test_localhost_resolves_to_loopback_addresses_only(import_snippet):
    lookup = import_snippet("sockets/address_lookup.py")
    results = lookup.addresses("localhost", 8765)
    assert results, "localhost resolves to at least one address"
    for family, kind, address in results:
        assert family in (socket.AF_INET, socket.AF_INET6)
        assert kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM)
        assert ipaddress.ip_address(address[0]).is_loopback
        assert address[1] == 8765


def test_bytes_text_and_cut_characters(run_example):
    run_example("sockets/bytes_and_text.py")


def test_receive_text_refuses_a_character_cut_at_the_end(import_snippet):
    snippet = import_snippet("sockets/bytes_and_text.py")
    sender, receiver = socket.socketpair()
    with sender, receiver:
        receiver.settimeout(5)
        sender.sendall("👋".encode()[:3])
        sender.close()
        with pytest.raises(UnicodeDecodeError, match="unexpected end of data"):
            snippet.receive_text(receiver)
