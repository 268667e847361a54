"""drop_client.py and drop_async_client.py: what they print, and one clear
line for each way a request can fail, whoever is at the other end."""

from __future__ import annotations

import asyncio
import socket
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import trustme
from drop_protocol import (
    ERROR,
    NAMES,
    STORED,
    Code,
    encode,
    error_reply,
)

from .conftest import (
    MAX_SIZE,
    canned_server,
    drop_server_running,
    silent_listener,
)

CLIENT = "building_an_app/drop_client.py"
ASYNC_CLIENT = "building_an_app/drop_async_client.py"


def run_client(import_snippet, monkeypatch, capsys, *args) -> tuple[str, str]:
    """Run drop_client.py's main() with `args`: (stdout, the exit line)."""
    client = import_snippet(CLIENT)
    monkeypatch.setattr(sys, "argv", ["drop_client.py", *args])
    line = ""
    try:
        client.main()
    except SystemExit as exit:
        line = str(exit.code)
    return capsys.readouterr().out, line


@pytest.fixture
def hello(tmp_path):
    path = tmp_path / "hello.txt"
    path.write_bytes(b"Hello, DROP!")
    return path


def test_put_prints_what_was_stored(shared_drop, run_example, hello):
    run_example(CLIENT, "put", str(hello), "--port", str(shared_drop.port))
    assert (shared_drop.folder / "hello.txt").read_bytes() == b"Hello, DROP!"


def test_list_and_get(
    shared_drop, import_snippet, monkeypatch, capsys, hello, tmp_path
):
    port = ["--port", str(shared_drop.port)]
    run_client(import_snippet, monkeypatch, capsys, "put", str(hello), *port)
    out, _ = run_client(import_snippet, monkeypatch, capsys, "list", *port)
    assert "hello.txt\n" in out
    (tmp_path / "downloads").mkdir()
    folder = ["--folder", str(tmp_path / "downloads")]
    out, _ = run_client(
        import_snippet, monkeypatch, capsys, "get", "hello.txt", *folder, *port
    )
    assert out == "Saved hello.txt: 12 bytes\n"
    assert (tmp_path / "downloads" / "hello.txt").read_bytes() == b"Hello, DROP!"


# --- One line for each cause of failure ----------------------------------------


def fails_with(import_snippet, monkeypatch, capsys, *args) -> str:
    out, line = run_client(import_snippet, monkeypatch, capsys, *args)
    assert out == ""
    assert "\n" not in line
    return line


def test_no_server(import_snippet, monkeypatch, capsys, free_port):
    line = fails_with(
        import_snippet, monkeypatch, capsys, "list", "--port", str(free_port)
    )
    assert line == f"No server at 127.0.0.1:{free_port}: is drop_server.py running?"


def test_a_server_that_never_answers_is_a_timeout(import_snippet, monkeypatch, capsys):
    with silent_listener() as port:
        line = fails_with(
            import_snippet, monkeypatch, capsys,
            "list", "--port", str(port), "--timeout", "0.2",
        )  # fmt: skip
    assert line == f"127.0.0.1:{port} did not answer in time"


def test_an_error_reply_is_the_servers_reason(
    shared_drop, import_snippet, monkeypatch, capsys
):
    line = fails_with(
        import_snippet, monkeypatch, capsys,
        "get", "missing.txt", "--port", str(shared_drop.port),
    )  # fmt: skip
    assert line == "The server refused: NOT_FOUND: no file named missing.txt"


@pytest.mark.parametrize(
    ("reply", "then_reset", "says"),
    [
        (b"HTTP/1.1 400 Bad Request\r\n\r\n", False,
         "does not speak DROP 1: not a DROP frame: b'HTTP/1.1'"),
        (encode(NAMES)[:5], False, "hung up in the middle of its reply"),
        (b"", True, "reset the connection (busy or restarting?)"),
        (b"", False, "closed without a reply (TLS? add --ca-file)"),
        (encode(ERROR, b"\x00\x63from a later version"), False,
         "The server refused: ERROR 99: from a later version"),
        (encode(ERROR, b"?"), False,
         "The server refused: BAD_FRAME: an ERROR reply without a code"),
        (encode(NAMES, b"x"), False,
         "does not speak DROP 1: a reply of type b'N', not b'S'"),
        (encode(STORED, b"\x00" * 32), False,
         "does not speak DROP 1: its SHA-256 is not that of what we sent"),
    ],
)  # fmt: skip
def test_what_another_server_answers_is_named(
    import_snippet, monkeypatch, capsys, hello, reply, then_reset, says
):
    with canned_server(reply, then_reset=then_reset) as port:
        line = fails_with(
            import_snippet, monkeypatch, capsys, "put", str(hello), "--port", str(port)
        )
    assert line == f"127.0.0.1:{port} {says}" or line == says


def test_a_name_that_drop_refuses_is_caught_before_sending(
    import_snippet, monkeypatch, capsys, tmp_path
):
    odd = tmp_path / "my notes.txt"
    odd.write_text("x")
    client = import_snippet(CLIENT)
    monkeypatch.setattr(sys, "argv", ["drop_client.py", "put", str(odd)])
    with pytest.raises(SystemExit) as exit:
        client.main()
    assert exit.value.code == 2  # argparse: a usage error
    assert "choose one with --name" in capsys.readouterr().err


def test_a_missing_file_is_named(
    import_snippet, monkeypatch, capsys, tmp_path, free_port
):
    line = fails_with(
        import_snippet, monkeypatch, capsys,
        "put", str(tmp_path / "nope.txt"), "--port", str(free_port),
    )  # fmt: skip
    assert line == f"Cannot use {tmp_path / 'nope.txt'}: No such file or directory"


def test_a_name_that_cannot_be_resolved_is_named(import_snippet, monkeypatch, capsys):
    def no_such_name(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    # No lookup leaves the machine: the resolver itself is replaced.
    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    line = fails_with(import_snippet, monkeypatch, capsys, "list", "--host", "nosuch")
    assert line == "Cannot reach nosuch:8790: [Errno -2] Name or service not known"


# --- TLS ----------------------------------------------------------------------


def test_put_over_tls_with_the_local_ca(
    tls_drop, local_certificates, run_example, hello
):
    run_example(
        CLIENT, "put", str(hello), "--port", str(tls_drop.port),
        "--ca-file", str(local_certificates.ca_file),
    )  # fmt: skip


def test_a_certificate_from_another_ca_is_untrusted(
    tls_drop, import_snippet, monkeypatch, capsys, tmp_path
):
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(other_ca)
    line = fails_with(
        import_snippet, monkeypatch, capsys,
        "list", "--port", str(tls_drop.port), "--ca-file", str(other_ca),
    )  # fmt: skip
    assert line == (
        f"Untrusted certificate at 127.0.0.1:{tls_drop.port}: "
        "unable to get local issuer certificate"
    )


def test_tls_to_a_plain_server_is_named(
    shared_drop, import_snippet, monkeypatch, capsys, local_certificates
):
    line = fails_with(
        import_snippet, monkeypatch, capsys,
        "list", "--port", str(shared_drop.port),
        "--ca-file", str(local_certificates.ca_file),
    )  # fmt: skip
    assert line == (
        f"TLS failed with 127.0.0.1:{shared_drop.port}: "
        "WRONG_VERSION_NUMBER (does it speak TLS?)"
    )


def test_plain_to_a_tls_server_is_named(tls_drop, import_snippet, monkeypatch, capsys):
    line = fails_with(
        import_snippet, monkeypatch, capsys, "list", "--port", str(tls_drop.port)
    )
    assert line == (
        f"127.0.0.1:{tls_drop.port} closed without a reply (TLS? add --ca-file)"
    )


# --- The asyncio client ---------------------------------------------------------


@pytest.fixture
def three_files(tmp_path):
    paths = []
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_text(f"file {name[0]}")
        paths.append(str(tmp_path / name))
    return paths


def test_async_client_uploads_every_file(shared_drop, run_example, three_files):
    run_example(ASYNC_CLIENT, *three_files, "--port", str(shared_drop.port))
    assert (shared_drop.folder / "b.txt").read_text() == "file b"


def test_async_client_over_tls(tls_drop, run_example, three_files, local_certificates):
    run_example(
        ASYNC_CLIENT, *three_files, "--port", str(tls_drop.port),
        "--ca-file", str(local_certificates.ca_file),
    )  # fmt: skip


def run_async_client(import_snippet, monkeypatch, capsys, *args) -> tuple[str, object]:
    client = import_snippet(ASYNC_CLIENT)
    monkeypatch.setattr(sys, "argv", ["drop_async_client.py", *args])
    with pytest.raises(SystemExit) as exit:
        client.main()
    return capsys.readouterr().out, exit.value.code


def test_async_client_names_each_failure(
    import_snippet, monkeypatch, capsys, three_files, free_port
):
    out, code = run_async_client(
        import_snippet, monkeypatch, capsys,
        *three_files[:2], "--port", str(free_port), "--retry-for", "0.1",
    )  # fmt: skip
    assert code == 1
    no_server = f"No server at 127.0.0.1:{free_port}: is drop_server.py running?"
    assert out == f"Failed a.txt: {no_server}\nFailed b.txt: {no_server}\n"


@pytest.mark.parametrize("bad", ["missing.txt", "my notes.txt"])
def test_async_client_checks_its_files_first(
    import_snippet, monkeypatch, capsys, tmp_path, bad
):
    if bad == "my notes.txt":
        (tmp_path / bad).write_text("x")
    out, code = run_async_client(
        import_snippet, monkeypatch, capsys, str(tmp_path / bad)
    )
    assert out == ""
    assert code.startswith("Cannot upload: ")


def test_async_client_retries_while_busy(start_server, tmp_path, import_snippet):
    client = import_snippet(ASYNC_CLIENT)
    with drop_server_running(
        start_server, tmp_path, "--max-connections", "1"
    ) as server:
        holder = socket.create_connection((server.host, server.port))
        with ThreadPoolExecutor(1) as pool:
            upload = pool.submit(
                asyncio.run,
                client.put_many([("late.txt", b"waited")], server.host, server.port),
            )
            server.wait_for("Busy: a connection refused")
            holder.close()  # the one slot is free again
            assert upload.result(timeout=10) == ["Stored late.txt: 6 bytes"]


def test_async_client_does_not_retry_a_refusal(shared_drop, import_snippet):
    client = import_snippet(ASYNC_CLIENT)
    lines = asyncio.run(
        client.put_many(
            [("big.bin", b"x" * 100_000)], shared_drop.host, shared_drop.port
        )
    )
    payload = 1 + len("big.bin") + 100_000  # the name's length, name, content
    assert lines == [
        f"Failed big.bin: The server refused: TOO_LARGE: {payload} bytes; "
        f"the limit is {MAX_SIZE}"
    ]


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        (encode(STORED, b"\x00" * 32), "does not speak DROP 1: its SHA-256"),
        (error_reply(Code.FULL, "1000 files"), "The server refused: FULL"),
    ],
)
def test_async_client_checks_the_reply(import_snippet, reply, says):
    client = import_snippet(ASYNC_CLIENT)
    with canned_server(reply) as port:
        lines = asyncio.run(client.put_many([("x.txt", b"x")], "127.0.0.1", port))
    assert lines[0].startswith("Failed x.txt: ")
    assert says in lines[0]


def test_async_client_times_out(import_snippet):
    client = import_snippet(ASYNC_CLIENT)
    with silent_listener() as port:
        lines = asyncio.run(
            client.put_many([("x.txt", b"x")], "127.0.0.1", port, timeout=0.2)
        )
    assert lines == [f"Failed x.txt: 127.0.0.1:{port} did not answer in time"]


@pytest.mark.parametrize("client", [CLIENT, ASYNC_CLIENT])
def test_a_missing_ca_file_says_how_to_make_one(
    import_snippet, monkeypatch, capsys, client, hello, free_port
):
    module = import_snippet(client)
    command = ["put"] if client == CLIENT else []
    monkeypatch.setattr(sys, "argv", [
        client, *command, str(hello), "--port", str(free_port),
        "--ca-file", "certs/missing.pem",
    ])  # fmt: skip
    with pytest.raises(SystemExit) as exit:
        module.main()
    assert exit.value.code == (
        "No CA file certs/missing.pem: make_local_ca.py --folder certs"
    )
    assert capsys.readouterr().out == ""
