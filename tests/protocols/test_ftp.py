"""Tests of the page "FTP" (docs/protocols/ftp.md)."""

import ftplib
import getpass
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from hostile import attacks
from peers.daemons import run_client
from peers.programs import require, version
from sequence_figures import Actor, Message, Note, check_figure, sequence_svg

SERVER = "protocols/ftp_server.py"
CLIENT = "protocols/ftp_transfer.py"
FAILURES = "protocols/ftp_failures.py"
SNIPPETS = Path(__file__).resolve().parents[2] / "snippets"
# The strict server's limits: small, so that each attack ends quickly.
COMMAND_TIMEOUT = 0.5  # seconds for each command line
DATA_TIMEOUT = 0.3  # seconds a data connection may move nothing
MAX_CONNECTIONS = 20
WAIT = 5.0  # seconds a test waits for anything before it fails


@dataclass
class FileServer:
    host: str
    port: int
    root: Path  # the folder the server serves
    password: str
    pid: int = 0

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port


def server_arguments(certificates, root: Path, *limits: str) -> list[str]:
    return [
        "--cert", str(certificates.cert_file),
        "--key", str(certificates.key_file),
        "--root", str(root),
        # The server waits before refusing a password, to slow down
        # guessing; the tests need not wait that long.
        "--failed-login-delay", "0.05",
        *limits,
    ]  # fmt: skip


STRICT_LIMITS = (
    "--command-timeout", str(COMMAND_TIMEOUT),
    "--data-timeout", str(DATA_TIMEOUT),
    "--max-connections", str(MAX_CONNECTIONS),
)  # fmt: skip


@pytest.fixture(scope="module")
def ftp_server(
    start_server, local_certificates, tmp_path_factory, import_snippet_once, idle_client
) -> Iterator[FileServer]:
    """One server for the whole module, with the default limits."""
    root = tmp_path_factory.mktemp("ftp-root")
    arguments = server_arguments(local_certificates, root)
    password = import_snippet_once(SERVER).PASSWORD
    with idle_client() as connect_idle, start_server(SERVER, *arguments) as server:
        connect_idle(server.host, server.port)
        yield FileServer(server.host, server.port, root, password, server.process.pid)


@contextmanager
def a_strict_server(start_server, certificates, root: Path, password: str):
    arguments = server_arguments(certificates, root, *STRICT_LIMITS)
    with start_server(SERVER, *arguments) as server:
        yield FileServer(server.host, server.port, root, password, server.process.pid)


@pytest.fixture(scope="module")
def strict_server(
    start_server, local_certificates, tmp_path_factory, import_snippet_once
) -> Iterator[FileServer]:
    """A server with small limits, for attacks that hold one client each."""
    root = tmp_path_factory.mktemp("ftp-root-strict")
    password = import_snippet_once(SERVER).PASSWORD
    with a_strict_server(start_server, local_certificates, root, password) as server:
        yield server


@pytest.fixture
def flood_server(
    start_server, local_certificates, tmp_path, import_snippet_once
) -> Iterator[FileServer]:
    """A server whose connection limit one attack fills.

    Its clients get a long time for each command: on a busy machine,
    accepting a flood of 300 can take longer than the strict server's
    half second, which would free places for more of the flood.
    """
    password = import_snippet_once(SERVER).PASSWORD
    arguments = server_arguments(
        local_certificates, tmp_path, "--command-timeout", str(2 * WAIT),
        "--max-connections", str(MAX_CONNECTIONS),
    )  # fmt: skip
    with start_server(SERVER, *arguments) as server:
        yield FileServer(server.host, server.port, tmp_path, password)


@pytest.fixture
def client(import_snippet):
    return import_snippet(CLIENT)


@cache
def client_snippet():
    """The client snippet as a module, for its connect() (imported once)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("ftp_client", SNIPPETS / CLIENT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def log_in(server: FileServer, ca_file: Path) -> ftplib.FTP_TLS:
    """A logged-in session, as the reader's program opens it."""
    connect = client_snippet().connect
    return connect("ada", server.password, ca_file, server.host, server.port)


@pytest.fixture
def session(ftp_server, local_certificates) -> Iterator[ftplib.FTP_TLS]:
    with log_in(ftp_server, local_certificates.ca_file) as ftp:
        yield ftp


def a_name() -> str:
    """A file name no other test uses: the tests share one server."""
    return f"{uuid.uuid4().hex}.bin"


def a_normal_session_works(server: FileServer, ca_file: Path) -> bool:
    """What follows every bad input: the server still serves a client."""
    with log_in(server, ca_file) as ftp:
        return ftp.voidcmd("NOOP").startswith("200")


def first_reply(sock: socket.socket) -> bytes:
    """The server's first reply line, or b"" if it closed or reset first."""
    sock.settimeout(WAIT)
    try:
        return sock.recv(1024)
    except ConnectionResetError:
        return b""


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


def test_listing_without_mlst_uses_nlst_and_size(
    client, session, tmp_path, monkeypatch
):
    # A server like vsftpd, whose FEAT names no MLST: NLST, then SIZE.
    folder = a_name()
    session.mkd(folder)
    session.mkd(f"{folder}/sub")
    (tmp_path / "five").write_bytes(b"12345")
    client.upload(session, tmp_path / "five", f"{folder}/five")
    monkeypatch.setattr(client, "features", lambda ftp: {"SIZE", "UTF8"})
    assert client.list_files(session, folder) == {"five": 5}


def test_listing_without_mlst_or_size_says_why(client, session, monkeypatch):
    monkeypatch.setattr(client, "features", lambda ftp: set())
    with pytest.raises(client.MissingFeature, match="neither MLSD nor SIZE"):
        client.list_files(session)


def test_a_server_without_feat_offers_nothing(client, session, monkeypatch):
    def refuse(command):
        raise ftplib.error_perm("502 Command not implemented.")  # noqa: S321

    monkeypatch.setattr(session, "sendcmd", refuse)
    assert client.features(session) == set()


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
    with pytest.raises(client.IncompleteUpload, match="stored another size"):
        client.upload(session, original, a_name())


# --- Bad input: each fails with a clear exception or one clear line -------


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
        client.connect("ada", "wrong", local_certificates.ca_file, *ftp_server.address)
    assert a_normal_session_works(ftp_server, local_certificates.ca_file)


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


def test_transfer_program_takes_the_user_from_the_environment(
    run_example, ftp_server, local_certificates, monkeypatch
):
    monkeypatch.setenv("FTP_USER", "mallory")
    monkeypatch.setenv("FTP_PASSWORD", ftp_server.password)
    with pytest.raises(SystemExit) as exit_info:
        run_example(
            CLIENT, "--host", ftp_server.host, "--port", str(ftp_server.port),
            "--cafile", str(local_certificates.ca_file),
        )  # fmt: skip
    # Ada's password is not Mallory's.
    assert exit_info.value.code == "Login refused: 530 Authentication failed."


def test_unknown_certificate_authority_is_refused(
    client, ftp_server, local_certificates
):
    # cafile=None: the system's authorities, which never signed the test server.
    with pytest.raises(ssl.SSLCertVerificationError) as refused:
        client.connect("ada", ftp_server.password, None, *ftp_server.address)
    # This server sends its certificate without the CA's: a server that
    # sends the CA's too gets another message (see the vsftpd test below).
    assert refused.value.verify_message == "unable to get local issuer certificate"
    assert a_normal_session_works(ftp_server, local_certificates.ca_file)


def test_transfer_program_without_cafile_says_why_in_one_line(
    run_example, ftp_server, monkeypatch
):
    monkeypatch.setenv("FTP_PASSWORD", ftp_server.password)
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--host", ftp_server.host, "--port", str(ftp_server.port))
    assert exit_info.value.code == (
        f"Certificate of {ftp_server.host} not trusted (unable to get local"
        " issuer certificate): pass --cafile certs/ca.pem (python3"
        " make_local_ca.py makes it)"
    )


def test_server_without_its_certificates_says_how_to_make_them(
    import_snippet, tmp_path, monkeypatch
):
    server = import_snippet(SERVER)
    monkeypatch.chdir(tmp_path)  # no certs/ here
    monkeypatch.setattr(sys, "argv", [SERVER])
    with pytest.raises(SystemExit) as exit_info:
        server.main()
    assert exit_info.value.code == (
        "No certs/server.pem: python3 make_local_ca.py makes it"
    )


def test_transfer_program_with_a_missing_cafile_says_how_to_make_it(
    run_example, tmp_path, monkeypatch
):
    monkeypatch.setenv("FTP_PASSWORD", "unused")
    missing = tmp_path / "certs" / "ca.pem"
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--cafile", str(missing))
    assert exit_info.value.code == (
        f"No CA file {missing}: python3 make_local_ca.py makes it"
    )


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


def test_transfer_program_tells_a_timeout_from_no_server(
    client, silent_server, monkeypatch
):
    host, port = silent_server
    monkeypatch.setattr(client, "TIMEOUT", 0.05)
    monkeypatch.setenv("FTP_PASSWORD", "unused")
    monkeypatch.setattr(sys, "argv", [CLIENT, "--port", str(port)])
    with pytest.raises(SystemExit) as exit_info:
        client.main()
    assert exit_info.value.code == f"No answer from {host}:{port} within 0.05 s"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ftplib.error_temp("421 Too many connections."), "The server failed, try"  # noqa: S321
         " again later: 421 Too many connections."),
        (EOFError(), "[::1]:21 closed the connection"),
        (ConnectionResetError(104, "Connection reset by peer"),
         "Connection to [::1]:21 failed: [Errno 104] Connection reset by peer"),
    ],
)  # fmt: skip
def test_each_other_failure_is_one_line(client, error, expected):
    assert client.reason(error, "::1", 21) == expected


def test_a_missing_feature_is_one_line(client):
    error = client.MissingFeature("the server offers neither MLSD nor SIZE")
    assert client.reason(error, "127.0.0.1", 21) == (
        "Transfer failed: the server offers neither MLSD nor SIZE"
    )


# --- IPv6 ---------------------------------------------------------------


@pytest.fixture(scope="module")
def ftp_server_ipv6(
    start_server, local_certificates, tmp_path_factory, import_snippet_once
) -> Iterator[FileServer]:
    root = tmp_path_factory.mktemp("ftp-root-ipv6")
    arguments = server_arguments(local_certificates, root, "--host", "::1")
    password = import_snippet_once(SERVER).PASSWORD
    with start_server(SERVER, *arguments) as server:
        yield FileServer(server.host, server.port, root, password, server.process.pid)


def test_failures_program_over_ipv6(run_example, ftp_server_ipv6, local_certificates):
    run_example(
        FAILURES, "--host", "::1", "--port", str(ftp_server_ipv6.port),
        "--cafile", str(local_certificates.ca_file),
    )  # fmt: skip


def test_failures_program_with_a_missing_cafile_says_how_to_make_it(
    run_example, tmp_path
):
    missing = tmp_path / "ca.pem"
    with pytest.raises(SystemExit) as exit_info:
        run_example(FAILURES, "--cafile", str(missing))
    assert exit_info.value.code == (
        f"No CA file {missing}: python3 make_local_ca.py makes it"
    )


def test_server_and_client_work_over_ipv6(
    run_example, ftp_server_ipv6, local_certificates, monkeypatch
):
    assert ftp_server_ipv6.host == "::1"
    monkeypatch.setenv("FTP_PASSWORD", ftp_server_ipv6.password)
    run_example(
        CLIENT, "--host", "::1", "--port", str(ftp_server_ipv6.port),
        "--cafile", str(local_certificates.ca_file),
    )  # fmt: skip
    assert (ftp_server_ipv6.root / "report.csv").stat().st_size == 35


# --- The server survives bad clients --------------------------------------


@pytest.mark.hostile(SERVER, "garbage")
def test_garbage_gets_an_error_reply_and_the_server_goes_on(
    ftp_server, local_certificates
):
    with socket.create_connection(ftp_server.address, WAIT) as sock:
        assert first_reply(sock).startswith(b"220 ")
        # Every byte value but CR and LF: invalid UTF-8 as a command.
        sock.sendall(bytes(set(range(256)) - set(b"\r\n")) + b"\r\n")
        assert sock.recv(1024).startswith(b"500 ")  # 5xx: a permanent error
    assert a_normal_session_works(ftp_server, local_certificates.ca_file)


@pytest.mark.hostile(SERVER, "garbage")
def test_garbage_instead_of_a_tls_handshake_ends_that_connection_only(
    ftp_server, local_certificates
):
    with socket.create_connection(ftp_server.address, WAIT) as sock:
        assert first_reply(sock).startswith(b"220 ")
        sock.sendall(b"AUTH TLS\r\n")
        assert sock.recv(1024).startswith(b"234 ")
        sock.sendall(b"GET / HTTP/1.1\r\n\r\n" + os.urandom(200))
        assert attacks.closed_within(sock, WAIT) is not None
    assert a_normal_session_works(ftp_server, local_certificates.ca_file)


@pytest.mark.hostile(SERVER, "garbage")
def test_garbage_instead_of_tls_on_a_data_connection_gets_522(
    ftp_server, local_certificates
):
    with log_in(ftp_server, local_certificates.ca_file) as ftp:
        host, port = ftp.makepasv()
        ftp.putcmd(f"STOR {a_name()}")  # the upload waits for its connection
        with socket.create_connection((host, port), WAIT) as data_connection:
            assert ftp.getresp().startswith("150 ")
            data_connection.sendall(b"not a TLS handshake\r\n" * 10)
            with pytest.raises(ftplib.error_perm, match=r"^522 SSL handshake failed"):
                ftp.voidresp()
    assert a_normal_session_works(ftp_server, local_certificates.ca_file)


@pytest.mark.hostile(SERVER, "reset")
def test_client_that_vanishes_mid_upload_does_not_stop_the_server(
    ftp_server, local_certificates
):
    ftp = log_in(ftp_server, local_certificates.ca_file)
    data_connection = ftp.transfercmd(f"STOR {a_name()}")
    data_connection.sendall(b"half a file")
    # Linger 0: close() sends a reset, as a crashed client's kernel does.
    attacks.reset(data_connection)
    attacks.reset(ftp.sock)
    ftp.close()
    assert a_normal_session_works(ftp_server, local_certificates.ca_file)


@pytest.mark.hostile(SERVER, "reset")
def test_client_that_vanishes_mid_command_does_not_stop_the_server(
    ftp_server, local_certificates
):
    sock = socket.create_connection(ftp_server.address, WAIT)
    assert first_reply(sock).startswith(b"220 ")
    sock.sendall(b"NOO")
    attacks.reset(sock)
    assert a_normal_session_works(ftp_server, local_certificates.ca_file)


@pytest.mark.hostile(SERVER, "reset", limit="End of an upload")
@pytest.mark.parametrize("ending", ["reset", "close without close_notify"])
def test_an_upload_cut_short_is_refused_and_deleted(
    ending, ftp_server, local_certificates
):
    name = a_name()
    with log_in(ftp_server, local_certificates.ca_file) as ftp:
        data_connection = ftp.transfercmd(f"STOR {name}")
        data_connection.sendall(os.urandom(100_000))
        if ending == "reset":
            attacks.reset(data_connection)
        else:  # TCP's end of stream, without TLS's: what a cut looks like
            data_connection.close()
        with pytest.raises(ftplib.error_temp, match=r"^426 Upload cut short"):
            ftp.voidresp()
    assert not (ftp_server.root / name).exists()


def test_an_upload_that_ends_with_close_notify_is_complete(
    ftp_server, local_certificates
):
    name = a_name()
    with log_in(ftp_server, local_certificates.ca_file) as ftp:
        data_connection = ftp.transfercmd(f"STOR {name}")
        data_connection.sendall(b"all of it")
        data_connection.unwrap().close()  # close_notify, then TCP's end
        assert ftp.voidresp().startswith("226 ")
    assert (ftp_server.root / name).read_bytes() == b"all of it"


@pytest.mark.hostile(SERVER, "silent", limit="Time to send a command")
def test_silent_client_is_dropped_and_others_are_served(
    strict_server, local_certificates, record_wait
):
    with socket.create_connection(strict_server.address, WAIT) as silent:
        assert first_reply(silent).startswith(b"220 ")
        # It never says a word; meanwhile the others are served.
        record_wait(
            attacks.served_within(
                WAIT,
                lambda: a_normal_session_works(
                    strict_server, local_certificates.ca_file
                ),
            )
        )
        said = attacks.read_until_closed(silent, WAIT)
    assert said == b"421 Control connection timed out.\r\n"


@pytest.mark.hostile(SERVER, "slow drip", limit="Time to send a command")
def test_slow_drip_client_is_dropped_at_the_deadline(
    strict_server, local_certificates, record_wait
):
    with socket.create_connection(strict_server.address, WAIT) as dripper:
        assert first_reply(dripper).startswith(b"220 ")
        # One byte every 0.1 s: each keeps an idle timeout from firing, but
        # the line never ends within the command's time.
        line = b"NOOP" + b" " * 100 + b"\r\n"
        closed_after = attacks.slow_drip(dripper, line, every=0.1, for_at_most=WAIT)
    assert closed_after is not None
    assert closed_after < COMMAND_TIMEOUT + 1.0
    record_wait(
        attacks.served_within(
            WAIT,
            lambda: a_normal_session_works(strict_server, local_certificates.ca_file),
        )
    )


@pytest.mark.hostile(SERVER, "oversize", limit="Command line length")
def test_oversized_command_line_gets_500_and_the_connection_goes_on(
    ftp_server, local_certificates
):
    with socket.create_connection(ftp_server.address, WAIT) as sock:
        assert first_reply(sock).startswith(b"220 ")
        sock.sendall(b"A" * 3000)  # no line end yet: over the 2,048 bytes
        assert sock.recv(1024) == b"500 Command too long.\r\n"
        sock.sendall(b"\r\nNOOP\r\n")
        replies = b""
        while replies.count(b"\r\n") < 2:  # the rest of the line, then NOOP
            chunk = sock.recv(1024)
            assert chunk, f"closed after {replies!r}"
            replies += chunk
        assert replies.splitlines()[1].startswith(b"200 ")
    assert a_normal_session_works(ftp_server, local_certificates.ca_file)


@pytest.mark.hostile(SERVER, "garbage", limit="Login attempts")
def test_third_wrong_password_ends_the_connection(strict_server, local_certificates):
    context = ssl.create_default_context(cafile=local_certificates.ca_file)
    with ftplib.FTP_TLS(context=context, timeout=WAIT) as ftp:  # noqa: S321
        ftp.connect(*strict_server.address)
        ftp.auth()
        replies = []
        for guess in ("guess1", "guess2", "guess3"):
            ftp.sendcmd("USER ada")
            with pytest.raises(ftplib.error_perm) as refused:
                ftp.sendcmd(f"PASS {guess}")
            replies.append(str(refused.value))
        with pytest.raises((EOFError, OSError)):
            ftp.sendcmd("NOOP")  # the server has hung up
    assert replies == [
        "530 Authentication failed.",
        "530 Authentication failed.",
        "530 Authentication failed. Disconnecting.",
    ]
    assert a_normal_session_works(strict_server, local_certificates.ca_file)


@pytest.mark.hostile(SERVER, "confinement", limit="Paths served")
def test_paths_outside_the_folder_are_refused(ftp_server, session, local_certificates):
    folder = ftp_server.root / a_name()
    folder.mkdir()
    (folder / "passwd").symlink_to("/etc/passwd")  # a link that leads out
    (folder / "everything").symlink_to("/")
    here = folder.name

    def attempt(command: str) -> None:
        if command.startswith(("RETR", "NLST")):  # these open a data connection
            session.retrlines(command, lambda line: None)
        else:
            session.sendcmd(command)

    for command in (
        "RETR ../../../../../etc/passwd",
        "RETR /etc/passwd",
        f"RETR {here}/passwd",
        f"SIZE {here}/passwd",
        f"CWD {here}/everything",
        f"NLST {here}/everything/etc",
    ):
        with pytest.raises(ftplib.error_perm, match=r"^550 ") as refused:
            attempt(command)
        assert "outside" in str(refused.value) or "No such" in str(refused.value)
    # ".." from the top stays at the top.
    session.cwd("/")
    session.cwd("..")
    assert session.pwd() == "/"
    assert a_normal_session_works(ftp_server, local_certificates.ca_file)


@pytest.mark.hostile(SERVER, "flood", limit="Connections at once")
def test_a_flood_of_connections_is_bounded_and_the_server_recovers(
    flood_server, local_certificates, record_wait
):
    with attacks.flood(*flood_server.address, 300) as sockets:
        replies = [first_reply(sock) for sock in sockets]
        admitted = [
            s for s, r in zip(sockets, replies, strict=True) if r.startswith(b"220 ")
        ]
        turned_away = [r for r in replies if not r.startswith(b"220 ")]
        assert len(sockets) == 300
        assert len(admitted) == MAX_CONNECTIONS
        assert set(turned_away) <= {
            b"421 Too many connections. Service temporarily unavailable.\r\n",
            b"",  # closed before the reply could be sent
        }
        # The admitted ones leave (a silent client is dropped at its
        # deadline: see above), and then the next client is served.
        start = time.monotonic()
        for sock in admitted:
            sock.sendall(b"QUIT\r\n")
            assert b"221 " in attacks.read_until_closed(sock, WAIT)
        assert a_normal_session_works(flood_server, local_certificates.ca_file)
        record_wait(time.monotonic() - start)


@pytest.mark.hostile(SERVER, "fd exhaustion", limit="Connections at once")
def test_few_file_descriptors_cap_the_connections(
    start_server, local_certificates, tmp_path, import_snippet_once, record_wait
):
    arguments = server_arguments(
        local_certificates, tmp_path, "--command-timeout", str(COMMAND_TIMEOUT)
    )
    low = attacks.low_file_limit(64)
    snippet = import_snippet_once(SERVER)
    # A control connection, a data connection and a file for each client,
    # and some descriptors in reserve: 16 clients with 64 descriptors.
    capacity = (64 - snippet.FDS_IN_RESERVE) // snippet.FDS_PER_CLIENT
    with start_server(SERVER, *arguments, preexec_fn=low) as running:
        server = FileServer(running.host, running.port, tmp_path, snippet.PASSWORD)
        with attacks.flood(*server.address, 100) as sockets:
            replies = [first_reply(sock) for sock in sockets]
            admitted = [
                s for s, r in zip(sockets, replies, strict=True) if r.startswith(b"220")
            ]
            assert len(admitted) == capacity
            start = time.monotonic()
            for sock in admitted:
                assert attacks.closed_within(sock, WAIT) is not None
            assert a_normal_session_works(server, local_certificates.ca_file)
            record_wait(time.monotonic() - start)
    assert "Too many open files" not in running.output


@pytest.mark.hostile(SERVER, "non-reading", limit="Data connection without progress")
def test_a_client_that_stops_reading_a_download_is_dropped(
    strict_server, local_certificates, record_wait
):
    strict_server.root.joinpath("big.bin").write_bytes(bytes(30_000_000))
    before = attacks.memory_of(strict_server.pid)
    with log_in(strict_server, local_certificates.ca_file) as ftp:
        data_connection = ftp.transfercmd("RETR big.bin")
        # It never reads: the server's writes stall once the buffers fill.
        record_wait(
            attacks.served_within(
                WAIT,
                lambda: a_normal_session_works(
                    strict_server, local_certificates.ca_file
                ),
            )
        )
        with pytest.raises(
            ftplib.error_temp, match=r"^421 Data connection timed out\."
        ):
            ftp.voidresp()
        data_connection.close()
    after = attacks.memory_of(strict_server.pid)
    # pyftpdlib reads the file in 64 KB pieces as the client takes them: a
    # stalled client costs little memory, not the whole file.
    assert after["VmHWM"] - before["VmRSS"] < 20_000_000


# --- Real clients drive the server: lftp and curl -------------------------

LFTP_SIZES = (64 * 1024, 200_000, 1024 * 1024, 10 * 1024 * 1024)


def lftp(server: FileServer, ca_file: Path, commands: str):
    """Run lftp against `server` over FTPS (TLS required, certificate checked).

    With `debug 3`, lftp writes each reply it gets to stderr.
    """
    host = f"[{server.host}]" if ":" in server.host else server.host
    settings = (
        f"set ssl:ca-file {ca_file}; set ssl:verify-certificate yes;"
        " set ftp:ssl-force yes; set ftp:ssl-protect-data yes;"
        # One try, no pause before it: a failure shows at once.
        " set net:max-retries 1; set net:reconnect-interval-base 0;"
        " set net:timeout 10; set cmd:fail-exit yes;"
        f" open -u 'ada,{server.password}' -p {server.port} ftp://{host}; "
    )
    return run_client(
        [require("lftp"), "--norc", "-c", settings + commands], timeout=60
    )


@pytest.mark.interop(SERVER, "lftp", "FTPS uploads and downloads, 64 KB to 10 MB")
def test_lftp_uploads_and_downloads_every_size_whole(
    ftp_server, local_certificates, tmp_path
):
    commands = []
    for size in LFTP_SIZES:
        (tmp_path / f"up-{size}").write_bytes(os.urandom(size))
        commands += [
            f"put {tmp_path}/up-{size} -o lftp-{size}",
            f"get lftp-{size} -o {tmp_path}/down-{size}",
        ]
    result = lftp(ftp_server, local_certificates.ca_file, "; ".join(commands))
    assert result.returncode == 0, result.stderr
    for size in LFTP_SIZES:
        sent = (tmp_path / f"up-{size}").read_bytes()
        assert (ftp_server.root / f"lftp-{size}").read_bytes() == sent, size
        assert (tmp_path / f"down-{size}").read_bytes() == sent, size


@pytest.mark.interop(SERVER, "lftp", "FTPS over IPv6")
def test_lftp_over_ipv6(ftp_server_ipv6, local_certificates, tmp_path):
    data = os.urandom(1024 * 1024)
    (tmp_path / "up").write_bytes(data)
    result = lftp(
        ftp_server_ipv6, local_certificates.ca_file,
        f"put {tmp_path}/up -o lftp6; get lftp6 -o {tmp_path}/down",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (ftp_server_ipv6.root / "lftp6").read_bytes() == data
    assert (tmp_path / "down").read_bytes() == data


TLS13_DATA_SERVER = """
import sys
sys.path.insert(0, {folder!r})
import ftp_server
from OpenSSL import SSL

# ftp_server.py as pyftpdlib would have it: TLS 1.3 on data connections too.
tls_context = ftp_server.tls_context
ftp_server.tls_context = lambda cert, key, newest: tls_context(
    cert, key, SSL.TLS1_3_VERSION
)
ftp_server.main()
"""


@contextmanager
def tls13_data_server(tmp_path: Path, arguments: list[str]) -> Iterator[tuple]:
    """ftp_server.py with TLS 1.3 allowed on data connections, as a process."""
    script = tmp_path / "tls13_data_server.py"
    script.write_text(
        TLS13_DATA_SERVER.format(folder=str(SNIPPETS / "protocols")), "utf-8"
    )
    process = subprocess.Popen(  # noqa: S603 (the snippet, one setting changed)
        [sys.executable, "-W", "error", str(script), "--port", "0", *arguments],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = process.stdout.readline()
        match = re.search(r"Listening on (\S+):(\d+)", line)
        assert match, line
        yield match[1], int(match[2])
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=10)
    assert errors == ""


@pytest.mark.interop(
    SERVER, "lftp", "with TLS 1.3 on data connections, a cut upload refused (426)"
)
def test_with_tls13_on_data_connections_lftp_uploads_would_be_cut(
    local_certificates, tmp_path, import_snippet_once
):
    # lftp never reads the session tickets that TLS 1.3 sends after the
    # handshake; closing with them unread, its kernel resets the connection
    # and drops what it had not sent. The server now sees the missing
    # close_notify and says 426, where pyftpdlib alone said 226 and kept a
    # short file. Never silent, whichever way it goes.
    root = tmp_path / "root"
    arguments = server_arguments(local_certificates, root)
    data = os.urandom(200_000)
    (tmp_path / "up").write_bytes(data)
    password = import_snippet_once(SERVER).PASSWORD
    with tls13_data_server(tmp_path, arguments) as (host, port):
        server = FileServer(host, port, root, password)
        result = lftp(
            server, local_certificates.ca_file, f"debug 3; put {tmp_path}/up -o cut"
        )
    stored = root / "cut"
    if result.returncode == 0:  # the reset came late enough this time
        assert stored.read_bytes() == data
    else:  # what happened in every run on this machine
        assert "<--- 426 Upload cut short: file deleted." in result.stderr
        assert not stored.exists()


def curl(*arguments: str) -> subprocess.CompletedProcess:
    return run_client([require("curl"), "--silent", "--show-error", *arguments])


@pytest.mark.interop(SERVER, "curl", "FTPS upload, listing and download, IPv4 and IPv6")
@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_curl_uploads_lists_and_downloads(
    family, ftp_server, ftp_server_ipv6, local_certificates, tmp_path
):
    server = ftp_server if family == "ipv4" else ftp_server_ipv6
    host = f"[{server.host}]" if ":" in server.host else server.host
    url = f"ftp://{host}:{server.port}/"
    name = a_name()
    data = os.urandom(300_000)
    (tmp_path / "up").write_bytes(data)
    common = ["--ssl-reqd", "--cacert", str(local_certificates.ca_file),
              "--user", f"ada:{server.password}"]  # fmt: skip
    upload = curl(*common, "--upload-file", str(tmp_path / "up"), url + name)
    assert upload.returncode == 0, upload.stderr
    listing = curl(*common, "--list-only", url)
    assert name in listing.stdout.split()
    download = curl(*common, "--output", str(tmp_path / "down"), url + name)
    assert download.returncode == 0, download.stderr
    assert (tmp_path / "down").read_bytes() == data == (server.root / name).read_bytes()


@pytest.mark.interop(SERVER, "curl", "a login without TLS refused")
def test_curl_without_tls_is_refused(ftp_server):
    url = f"ftp://{ftp_server.host}:{ftp_server.port}/"
    result = curl("--user", f"ada:{ftp_server.password}", "--list-only", url)
    assert result.returncode != 0
    assert "550" in result.stderr or "Access denied" in result.stderr


# --- The client snippets against another server: vsftpd ------------------


def vsftpd_arguments(daemon, ca_file: Path, *more: str) -> list[str]:
    return [
        "--host", daemon.host, "--port", str(daemon.port),
        "--cafile", str(ca_file), "--user", daemon.values["user"], *more,
    ]  # fmt: skip


@pytest.mark.interop(CLIENT, "vsftpd", "FTPS upload, listing without MLSD, download")
@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_transfer_program_works_against_vsftpd(
    run_program, family, vsftpd_server, vsftpd_server_ipv6, local_certificates
):
    daemon = vsftpd_server if family == "ipv4" else vsftpd_server_ipv6
    result = run_program(
        CLIENT, *vsftpd_arguments(daemon, local_certificates.ca_file),
        "--folder", daemon.values["incoming"],
        env={"FTP_PASSWORD": daemon.values["password"]},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"220 (vsFTPd {version('vsftpd')})",
        "report.csv on the server: 35 bytes (listed with NLST and SIZE)",
        "Downloaded copy is identical: True",
    ]
    uploaded = Path(daemon.values["anon_root"], "incoming", "report.csv")
    assert uploaded.stat().st_size == 35


@pytest.mark.interop(CLIENT, "vsftpd", "a refused upload (553) in one line")
def test_transfer_program_says_in_one_line_that_a_folder_is_read_only(
    run_program, vsftpd_server, local_certificates
):
    result = run_program(
        CLIENT, *vsftpd_arguments(vsftpd_server, local_certificates.ca_file),
        "--folder", vsftpd_server.values["readonly"],
        env={"FTP_PASSWORD": vsftpd_server.values["password"]},
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == "The server refused: 553 Could not create file.\n"


@pytest.mark.interop(
    CLIENT, "vsftpd", "a refused login and an untrusted CA, in one line"
)
def test_transfer_program_failures_against_vsftpd_are_one_line(
    run_program, vsftpd_server, local_certificates
):
    values = vsftpd_server.values
    refused = run_program(
        CLIENT, *vsftpd_arguments(vsftpd_server, local_certificates.ca_file),
        env={"FTP_PASSWORD": values["wrong_password"]},
    )  # fmt: skip
    assert refused.stderr == "Login refused: 530 Login incorrect.\n"
    untrusted = run_program(
        CLIENT, "--host", vsftpd_server.host, "--port", str(vsftpd_server.port),
        "--user", values["user"], env={"FTP_PASSWORD": values["password"]},
    )  # fmt: skip
    # vsftpd sends the CA's certificate too: another verify message.
    assert untrusted.stderr == (
        "Certificate of 127.0.0.1 not trusted (self-signed certificate in"
        " certificate chain): pass --cafile certs/ca.pem (python3"
        " make_local_ca.py makes it)\n"
    )


@pytest.mark.interop(FAILURES, "vsftpd", "each failure named, in the server's words")
def test_failures_program_against_vsftpd(
    run_program, vsftpd_server, local_certificates
):
    result = run_program(
        FAILURES, *vsftpd_arguments(vsftpd_server, local_certificates.ca_file)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "error_perm: 530 Login incorrect.",
        "error_perm: 530 Anonymous sessions must use encryption.",
        "SSLCertVerificationError: self-signed certificate in certificate chain",
        "ConnectionRefusedError: Connection refused",
    ]


# --- The figure on the page: two connections, as the client recorded them --

DOCS = Path(__file__).resolve().parents[2] / "docs"
FIGURE = DOCS / "protocols/ftp-connections.svg"
CONTROL_COLUMNS = 35  # characters on a line between the client and the control
DATA_COLUMNS = 15  # and between the client and the data port, in the middle
PASSIVE = re.compile(r"\((\d+,\d+,\d+,\d+),(\d+),(\d+)\)")


def recording_ftp(transcript: list) -> type[ftplib.FTP_TLS]:
    """ftplib.FTP_TLS, noting what it says and hears on both connections.

    The notes are taken inside the client, so what crosses the network
    encrypted is recorded as the client wrote and read it.
    """

    class RecordingFTP(ftplib.FTP_TLS):
        def putline(self, line):
            transcript.append(("client", line))
            super().putline(line)

        def getmultiline(self):
            reply = super().getmultiline()
            transcript.append(("server", reply))
            return reply

        def auth(self):
            reply = super().auth()
            transcript.append(("tls", self.sock.version()))
            return reply

        def ntransfercmd(self, cmd, rest=None):
            conn, size = super().ntransfercmd(cmd, rest)
            transcript.append(("data tls", conn.version(), conn.getpeername()[1]))
            sendall, unwrap = conn.sendall, conn.unwrap

            def counted_sendall(data, *args):
                transcript.append(("data sent", len(data)))
                return sendall(data, *args)

            def noted_unwrap():
                transcript.append(("close_notify",))
                return unwrap()

            conn.sendall, conn.unwrap = counted_sendall, noted_unwrap
            return conn, size

    return RecordingFTP


def fold(line: str, columns: int = CONTROL_COLUMNS) -> list[str]:
    """A line cut at spaces to fit `columns`; what follows is indented."""
    lines, current = [], ""
    for word in line.split(" "):
        if current and len(current) + 1 + len(word) > columns:
            lines.append(current)
            current = "  " + word
        else:
            current = f"{current} {word}" if current else word
    return [*lines, current]


def connections_steps(transcript: list, password: str) -> list:
    """The login and the first upload, step by step; the rest in a note.

    What changes from run to run (the data port) and the password are
    replaced by names."""
    [(_, tls_version)] = [event for event in transcript if event[0] == "tls"]
    events = iter(transcript)
    assert next(events)[0] == "connect"  # the control connection
    steps, data_port, sent = [], None, 0
    for event in events:
        kind = event[0]
        if kind == "tls":
            steps.append(
                Note(
                    f"TLS handshake ({tls_version}) on the control connection:"
                    " encrypted from here on. The client recorded what follows."
                )
            )
        elif kind == "client":
            line = event[1]
            if line.startswith("PASS "):
                assert line == f"PASS {password}"
                line = "PASS {password}"
            steps.append(Message(0, 2, [line]))
        elif kind == "server":
            reply = event[1]
            if passive := PASSIVE.search(reply):
                data_port = int(passive[2]) * 256 + int(passive[3])
                reply = reply.replace(passive[0], f"({passive[1]},p1,p2)")
            if reply[:3] in {"125", "150"}:  # which, depends on timing
                reply = "{150 or 125}: transfer starting"
            steps.append(Message(2, 0, reply.splitlines()))
            if reply.startswith("226 "):
                break  # the end of the first transfer
        elif kind == "connect":
            assert event[1][1] == data_port, "the port of the 227 reply"
            steps.append(Message(0, 1, ["TCP connect"]))
        elif kind == "data tls":
            assert event[2] == data_port
            steps.append(Message(0, 1, [event[1], "handshake"]))
        elif kind == "data sent":
            sent += event[1]
        elif kind == "close_notify":
            steps.append(Message(0, 1, [f"{sent} bytes,", "close_notify"]))
    rest = [event for event in events if event[0] in {"client", "connect"}]
    commands = list(dict.fromkeys(e[1].split()[0] for e in rest if e[0] == "client"))
    commands = [command for command in commands if command not in {"TYPE", "PASV"}]
    on_data = [
        rest[index + 1][1].split()[0]
        for index, event in enumerate(rest)
        if event[0] == "connect"
    ]
    steps.append(
        Note(
            f"Then {', '.join(commands[:-1])} and {commands[-1]}:"
            f" {' and '.join(on_data)} each open a data connection of their own."
        )
    )
    return steps


def alt_text(page: Path, figure: Path) -> str:
    """What a screen reader reads for `figure` on `page`.

    The page gives the figure's size too, so the browser keeps its place
    before loading it: the height must be the figure's own."""
    markdown = page.read_text(encoding="utf-8")
    image = re.search(
        rf"!\[(?P<alt>[^\]]+)\]\({re.escape(figure.name)}\)"
        r'\{ width="400" height="(?P<height>\d+)" loading=lazy \}',
        markdown,
    )
    assert image, f"{page.name} does not show {figure.name}"
    svg = figure.read_text(encoding="utf-8")
    assert f'viewBox="0 0 400 {image["height"]}"' in svg, "the height on the page"
    return " ".join(image["alt"].split())


def test_the_connections_figure_is_what_the_client_does(
    run_program, ftp_server, local_certificates, monkeypatch, request
):
    transcript = []
    real_create_connection = socket.create_connection

    def noted_create_connection(address, *args, **kwargs):
        transcript.append(("connect", address))
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(ftplib, "FTP_TLS", recording_ftp(transcript))
    monkeypatch.setattr(socket, "create_connection", noted_create_connection)
    result = run_program(
        CLIENT, "--host", ftp_server.host, "--port", str(ftp_server.port),
        "--cafile", str(local_certificates.ca_file),
        env={"FTP_PASSWORD": ftp_server.password},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    steps = connections_steps(transcript, ftp_server.password)
    names = {0: "The client", 1: "the data port", 2: "The control port"}
    said = [
        f"{names[step.sender]} to {names[step.receiver].lower()}:"
        f" {' '.join(step.lines)}."
        if isinstance(step, Message)
        else step.text
        for step in steps
    ]
    svg = sequence_svg(
        "ftp-connections",
        "ftp_transfer.py logs in to ftp_server.py and uploads a file",
        "The control connection carries commands and replies; the file"
        " travels on a data connection of its own. " + " ".join(said),
        actors=[
            Actor("Client", "ftp_transfer.py"),
            Actor("Data port", "p1\N{MULTIPLICATION SIGN}256+p2"),
            Actor("Control port", "ftp_server.py"),
        ],
        steps=[
            Message(
                step.sender,
                step.receiver,
                [
                    part
                    for line in step.lines
                    for part in fold(
                        line,
                        DATA_COLUMNS
                        if 1 in (step.sender, step.receiver)
                        else CONTROL_COLUMNS,
                    )
                ],
            )
            if isinstance(step, Message)
            else step
            for step in steps
        ],
    )
    check_figure(request, FIGURE, svg)
    # The page describes the figure in words, each reply code included.
    described = alt_text(DOCS / "protocols/ftp.md", FIGURE)
    replies = [step for step in steps if isinstance(step, Message) and step.sender == 2]
    codes = {line[:3] for step in replies for line in step.lines if line[:3].isdigit()}
    assert {code for code in codes if code not in described} == set()
