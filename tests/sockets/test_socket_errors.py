"""Tests of the page "When things go wrong" (docs/sockets/errors.md)."""

import errno
import socket

import pytest

ERRORS = "sockets/socket_errors.py"


def test_each_error_is_reproduced_with_its_real_message(run_example):
    # The #> comments under each print() are the messages the page shows.
    run_example(ERRORS)


@pytest.fixture
def errors(import_snippet):
    return import_snippet(ERRORS)


def test_describe_leaves_the_address_out_of_the_message(errors):
    with socket.create_server(("127.0.0.1", 0)) as first:
        address = first.getsockname()
        with pytest.raises(OSError, match="Address already in use") as error_info:
            socket.create_server(address)
    # Python's own message names the address and port, which change each run.
    assert str(address[1]) in str(error_info.value)
    description = errors.describe(error_info.value)
    assert description == "OSError: [EADDRINUSE] Address already in use"
    assert error_info.value.errno == errno.EADDRINUSE
