"""Tests of the page "FTP" (docs/protocols/ftp.md)."""

import ftplib
import getpass
import os
import socket
import ssl
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SERVER = "protocols/ftp_server.py"
CLIENT = "protocols/ftp_transfer.py"
FAILURES = "protocols/ftp_failures.py"


@dataclass
class FileServer:
    host: str
    port: int
    root: Path  # the folder the server serves
    password: str


@pytest.fixture(scope="module")
def ftp_server(
    start_server, local_certificates, tmp_path_factory, import_snippet_once, idle_client
) -> Iterator[FileServer]:
    """One server for the whole module: no test here needs a fresh one."""
    root = tmp_path_factory.mktemp("ftp-root")
    arguments = [
        "--cert", str(local_certificates.cert_file),
        "--key", str(local_certificates.key_file),
        "--root", str(root),
        # The server waits before refusing a password, to slow down guessing;
        # the tests need not wait that long.
        "--failed-login-delay", "0.05",
    ]  # fmt: skip
    password = import_snippet_once(SERVER).PASSWORD
    with idle_client() as connect_idle, start_server(SERVER, *arguments) as server:
        connect_idle(server.host, server.port)
        yield FileServer(server.host, server.port, root, password)


@pytest.fixture
def client(import_snippet):
    return import_snippet(CLIENT)


@pytest.fixture
def session(client, ftp_server, local_certificates) -> Iterator[ftplib.FTP_TLS]:
    """A logged-in session, as the reader's program opens it."""
    ftp = client.connect(
        "ada", ftp_server.password, local_certificates.ca_file,
        ftp_server.host, ftp_server.port,
    )  # fmt: skip
    with ftp:
        yield ftp


def a_name() -> str:
    """A file name no other test uses: the tests share one server."""
    return f"{uuid.uuid4().hex}.bin"


def a_normal_session_works(client, ftp_server, local_certificates) -> bool:
    """What follows every bad input: the server still serves a client."""
    ftp = client.connect(
        "ada", ftp_server.password, local_certificates.ca_file,
        ftp_server.host, ftp_server.port,
    )  # fmt: skip
    with ftp:
        return ftp.voidcmd("NOOP").startswith("200")


# --- Transfers, byte for byte ---------------------------------------------


def test_transfer_program_uploads_lists_and_downloads(
    run_example, ftp_server, local_certificates, monkeypatch
):
    monkeypatch.setenv("FTP_PASSWORD", ftp_server.password)
    run_example(
        CLIENT, "--host", ftp_server.host, "--port", str(ftp_server.port),
        "--cafile", str(local_certificates.ca_file),
    )  # fmt: skip
    assert (ftp_server.root / "report.csv").is_file()


def test_binary_upload_and_download_are_byte_for_byte(
    client, session, ftp_server, tmp_path
):
    # Every byte value, CR and LF included: a text-mode transfer would
    # rewrite the line ends; a binary one must not change a byte.
    data = os.urandom(1_000_000) + b"\r\n\n\r"
    original, copy, name = tmp_path / "original", tmp_path / "copy", a_name()
    original.write_bytes(data)

    client.upload(session, original, name)
    assert (ftp_server.root / name).read_bytes() == data
    assert client.list_files(session)[name] == len(data)
    client.download(session, name, copy)
    assert copy.read_bytes() == data
    assert not copy.with_name("copy.part").exists()


def test_listing_shows_files_not_folders(client, session, tmp_path):
    folder = a_name()
    session.mkd(folder)
    (tmp_path / "empty").write_bytes(b"")
    client.upload(session, tmp_path / "empty", f"{folder}/empty")
    assert client.list_files(session, folder) == {"empty": 0}
    assert folder not in client.list_files(session)


def test_failed_download_leaves_no_file_behind(client, session, tmp_path):
    target = tmp_path / "never.bin"
    with pytest.raises(ftplib.error_perm, match=r"^550 "):
        client.download(session, "no-such-file.bin", target)
    assert list(tmp_path.iterdir()) == []


def test_upload_that_arrives_short_is_reported(client, session, tmp_path, monkeypatch):
    original = tmp_path / "original"
    original.write_bytes(b"twelve bytes")
    # A server that stores less than it was sent: SIZE says so.
    monkeypatch.setattr(session, "size", lambda remote: 5)
    with pytest.raises(client.IncompleteUpload, match="stored a different size"):
        client.upload(session, original, a_name())


# --- Bad input: each fails with a clear exception -------------------------


def test_failures_program_shows_each_exception(
    run_example, ftp_server, local_certificates
):
    run_example(
        FAILURES, "--host", ftp_server.host, "--port", str(ftp_server.port),
        "--cafile", str(local_certificates.ca_file),
    )  # fmt: skip


def test_wrong_password_is_refused_and_next_login_works(
    client, ftp_server, local_certificates
):
    with pytest.raises(ftplib.error_perm, match=r"^530 "):
        client.connect(
            "ada", "wrong", local_certificates.ca_file, ftp_server.host, ftp_server.port
        )
    assert a_normal_session_works(client, ftp_server, local_certificates)


def test_transfer_program_says_when_login_is_refused(
    run_example, ftp_server, local_certificates, monkeypatch
):
    # No FTP_PASSWORD: the program asks for one; the "user" types a wrong one.
    monkeypatch.delenv("FTP_PASSWORD", raising=False)
    monkeypatch.setattr(getpass, "getpass", lambda prompt="Password: ": "wrong")
    with pytest.raises(SystemExit) as exit_info:
        run_example(
            CLIENT, "--host", ftp_server.host, "--port", str(ftp_server.port),
            "--cafile", str(local_certificates.ca_file),
        )  # fmt: skip
    assert exit_info.value.code == "Login refused: 530 Authentication failed."


def test_unknown_certificate_authority_is_refused(
    client, ftp_server, local_certificates
):
    # cafile=None: the system's authorities, which never signed the test server.
    with pytest.raises(ssl.SSLCertVerificationError) as refused:
        client.connect(
            "ada", ftp_server.password, None, ftp_server.host, ftp_server.port
        )
    assert refused.value.verify_message == "unable to get local issuer certificate"
    assert a_normal_session_works(client, ftp_server, local_certificates)


def test_files_in_clear_text_are_refused(ftp_server, local_certificates):
    # Logged in over TLS, but without prot_p(): the data would travel in clear.
    context = ssl.create_default_context(cafile=local_certificates.ca_file)
    with ftplib.FTP_TLS(context=context, timeout=5) as ftp:  # noqa: S321 (TLS)
        ftp.connect(ftp_server.host, ftp_server.port)
        ftp.login("ada", ftp_server.password)
        with pytest.raises(ftplib.error_perm, match="SSL/TLS required on the data"):
            ftp.nlst()


def test_no_server_gives_connection_refused(client, free_port):
    with pytest.raises(ConnectionRefusedError):
        client.connect("ada", "pw", None, "127.0.0.1", free_port)


def test_a_server_that_never_answers_times_out(client, silent_server, monkeypatch):
    monkeypatch.setattr(client, "TIMEOUT", 0.05)
    with pytest.raises(TimeoutError):
        client.connect("ada", "pw", None, *silent_server)


def test_transfer_program_says_what_to_do_when_no_server(
    run_example, free_port, monkeypatch
):
    monkeypatch.setenv("FTP_PASSWORD", "unused")
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--port", str(free_port))
    assert exit_info.value.code == (
        f"No server at 127.0.0.1:{free_port}: start ftp_server.py"
    )


# --- The server survives bad clients --------------------------------------


def test_garbage_gets_an_error_reply_and_the_server_goes_on(
    client, ftp_server, local_certificates
):
    with socket.create_connection((ftp_server.host, ftp_server.port), 5) as sock:
        sock.settimeout(5)
        assert sock.recv(1024).startswith(b"220 ")
        sock.sendall(bytes(set(range(256)) - set(b"\r\n")) + b"\r\n")
        assert sock.recv(1024).startswith(b"5")  # 5xx: a permanent error
    assert a_normal_session_works(client, ftp_server, local_certificates)


def test_client_that_vanishes_mid_upload_does_not_stop_the_server(
    client, ftp_server, local_certificates
):
    ftp = client.connect(
        "ada", ftp_server.password, local_certificates.ca_file,
        ftp_server.host, ftp_server.port,
    )  # fmt: skip
    data_connection = ftp.transfercmd(f"STOR {a_name()}")
    data_connection.sendall(b"half a file")
    # Linger 0: close() sends a reset, as a crashed client's kernel does.
    for sock in (data_connection, ftp.sock):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    data_connection.close()
    ftp.close()
    assert a_normal_session_works(client, ftp_server, local_certificates)


def test_silent_client_does_not_hold_up_the_others(
    client, ftp_server, local_certificates
):
    with socket.create_connection((ftp_server.host, ftp_server.port), 5) as silent:
        assert silent.recv(1024).startswith(b"220 ")
        # It never says a word; meanwhile the others are served.
        assert a_normal_session_works(client, ftp_server, local_certificates)
