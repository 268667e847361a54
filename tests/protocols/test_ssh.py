"""Tests of the page "SSH" (docs/protocols/ssh.md)."""

import asyncio
import hashlib
import os
import shutil
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest

SERVER = "protocols/ssh_server.py"
CLIENT = "protocols/ssh_client.py"
FAILURES = "protocols/ssh_failures.py"
KEYS = "protocols/ssh_keys.py"


@dataclass
class ShellServer:
    host: str
    port: int
    keys: Path  # host_key, client_key, authorized_keys, known_hosts
    root: Path  # the folder it serves over SFTP


@pytest.fixture(scope="module")
def ssh_server(
    start_server, tmp_path_factory, import_snippet_once, idle_client
) -> Iterator[ShellServer]:
    """One server for the whole module, with keys made for it by ssh_keys.py."""
    ssh_keys = import_snippet_once(KEYS)
    keys, root = (
        tmp_path_factory.mktemp("ssh-keys"),
        tmp_path_factory.mktemp("ssh-root"),
    )
    ssh_keys.make_keys(keys)
    arguments = ["--keys", str(keys), "--root", str(root)]
    with idle_client() as connect_idle, start_server(SERVER, *arguments) as server:
        connect_idle(server.host, server.port)
        # Host key checking stays on: known_hosts names the port it listens on.
        ssh_keys.write_known_hosts(keys, server.host, server.port)
        yield ShellServer(server.host, server.port, keys, root)


@pytest.fixture
def client(import_snippet):
    return import_snippet(CLIENT)


def connect(client, ssh_server: ShellServer, **changes):
    """Connect as the reader's program does, with some arguments changed."""
    arguments = {
        "host": ssh_server.host, "port": ssh_server.port,
        "key": ssh_server.keys / "client_key",
        "known_hosts": ssh_server.keys / "known_hosts",
    } | changes  # fmt: skip
    return client.connect(**arguments)


async def a_normal_session_works(client, ssh_server) -> bool:
    """What follows every bad input: the server still serves a client."""
    async with connect(client, ssh_server) as conn:
        result = await conn.run("sha256sum", timeout=5)
    return result.exit_status == 127  # it answered: no file name, no checksum


# --- Commands and transfers -----------------------------------------------


def test_client_program_transfers_and_checks_a_file(run_example, ssh_server):
    run_example(
        CLIENT, "--host", ssh_server.host, "--port", str(ssh_server.port),
        "--keys", str(ssh_server.keys),
    )  # fmt: skip
    assert (ssh_server.root / "report.csv").is_file()


@pytest.mark.asyncio
async def test_file_arrives_and_returns_byte_for_byte(client, ssh_server, tmp_path):
    data = os.urandom(1_000_000) + b"\r\n\n\r"
    original, copy = tmp_path / "original", tmp_path / "copy"
    original.write_bytes(data)
    name = f"{tmp_path.name}.bin"  # the tests share one server: a name of our own
    async with connect(client, ssh_server) as conn:
        await client.upload(conn, original, name)
        remote_digest = await client.remote_sha256(conn, name)
        await client.download(conn, name, copy)
    assert (ssh_server.root / name).read_bytes() == data
    assert remote_digest == hashlib.sha256(data).hexdigest()
    assert copy.read_bytes() == data


@pytest.mark.asyncio
async def test_a_file_name_is_never_run_as_a_command(client, ssh_server, tmp_path):
    # Quoted with shlex.quote, this whole name is one argument of sha256sum.
    name = f"{tmp_path.name}; echo hacked 'and' $HOME.txt"
    local = tmp_path / "local"
    local.write_bytes(b"data")
    async with connect(client, ssh_server) as conn:
        await client.upload(conn, local, name)
        assert (
            await client.remote_sha256(conn, name)
            == hashlib.sha256(b"data").hexdigest()
        )


@pytest.mark.asyncio
async def test_files_outside_the_served_folder_stay_out_of_reach(
    client, ssh_server, tmp_path
):
    secret = ssh_server.root.parent / "secret.txt"
    secret.write_text("not for clients")
    async with connect(client, ssh_server) as conn:
        result = await conn.run("sha256sum ../secret.txt", timeout=5)
        assert (result.exit_status, result.stdout) == (1, "")
        assert result.stderr == "sha256sum: ../secret.txt: No such file\n"
        with pytest.raises(asyncssh.ProcessError) as failed:
            await client.remote_sha256(conn, "../secret.txt")
        assert failed.value.exit_status == 1
        # SFTP is confined to the served folder too: "/" is its root.
        with pytest.raises(asyncssh.SFTPNoSuchFile):
            await client.download(conn, "../secret.txt", tmp_path / "stolen")
    assert not (tmp_path / "stolen").exists()


@pytest.mark.asyncio
async def test_unknown_commands_fail_like_a_shell_says(client, ssh_server):
    async with connect(client, ssh_server) as conn:
        result = await conn.run("rm -rf /", timeout=5)
        quotes = await conn.run("sha256sum 'unbalanced", timeout=5)
    assert result.exit_status == quotes.exit_status == 127
    assert result.stderr == "only sha256sum FILE... is available\n"


def test_keys_program_writes_keys_that_fit_together(run_example, tmp_path):
    run_example(KEYS, "--folder", str(tmp_path), "--port", "8022")
    for private in ("host_key", "client_key"):
        assert (tmp_path / private).stat().st_mode & 0o777 == 0o600
    host_key = asyncssh.read_private_key(tmp_path / "host_key")
    client_key = asyncssh.read_private_key(tmp_path / "client_key")
    # known_hosts names the server's key for 127.0.0.1 on port 8022 only.
    known = asyncssh.read_known_hosts(str(tmp_path / "known_hosts"))
    trusted, *_ = known.match("127.0.0.1", "127.0.0.1", 8022)
    assert {key.public_data for key in trusted} == {host_key.public_data}
    assert known.match("127.0.0.1", "127.0.0.1", 22)[0] == []
    authorized = (tmp_path / "authorized_keys").read_bytes()
    assert authorized == client_key.export_public_key()


# --- Bad input: each fails with a clear exception -------------------------


def test_failures_program_shows_each_exception(run_example, ssh_server):
    run_example(
        FAILURES, "--host", ssh_server.host, "--port", str(ssh_server.port),
        "--keys", str(ssh_server.keys),
    )  # fmt: skip


@pytest.mark.asyncio
async def test_failures_program_fails_only_with_bad_input(import_snippet, ssh_server):
    # The control: its log_in() works with the right key and known_hosts.
    failures = import_snippet(FAILURES)
    our_key = asyncssh.read_private_key(ssh_server.keys / "client_key")
    known_hosts = str(ssh_server.keys / "known_hosts")
    await failures.log_in(ssh_server.host, ssh_server.port, known_hosts, [our_key])


@pytest.mark.asyncio
async def test_a_key_the_server_does_not_know_is_refused(client, ssh_server, tmp_path):
    stranger = tmp_path / "stranger"
    stranger.write_bytes(
        asyncssh.generate_private_key("ssh-ed25519").export_private_key()
    )
    with pytest.raises(asyncssh.PermissionDenied):
        async with connect(client, ssh_server, key=stranger):
            pass  # pragma: no cover (never logged in)
    assert await a_normal_session_works(client, ssh_server)


def test_client_program_refuses_a_server_it_does_not_know(
    run_example, ssh_server, tmp_path
):
    # The reader's keys, but known_hosts lists another key for this server.
    keys = tmp_path / "keys"
    shutil.copytree(ssh_server.keys, keys)
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key()
    entry = f"[{ssh_server.host}]:{ssh_server.port} {impostor.decode()}"
    (keys / "known_hosts").write_text(entry)
    with pytest.raises(SystemExit) as exit_info:
        run_example(
            CLIENT, "--host", ssh_server.host, "--port", str(ssh_server.port),
            "--keys", str(keys),
        )  # fmt: skip
    assert exit_info.value.code == (
        f"Host key is not trusted for host {ssh_server.host}:"
        " is known_hosts up to date?"
    )


@pytest.mark.asyncio
async def test_no_server_gives_connection_refused(client, ssh_server, free_port):
    with pytest.raises(ConnectionRefusedError):
        async with connect(client, ssh_server, port=free_port):
            pass  # pragma: no cover (never connected)


@pytest.mark.asyncio
async def test_a_server_that_never_answers_times_out(
    client, ssh_server, silent_server, monkeypatch
):
    monkeypatch.setattr(client, "TIMEOUT", 0.05)
    host, port = silent_server
    # asyncio.TimeoutError: the built-in TimeoutError from Python 3.11 on.
    with pytest.raises(asyncio.TimeoutError):
        async with connect(client, ssh_server, host=host, port=port):
            pass  # pragma: no cover (never connected)


def test_client_program_says_what_to_do_when_no_server(
    run_example, ssh_server, free_port
):
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, "--port", str(free_port), "--keys", str(ssh_server.keys))
    assert exit_info.value.code == (
        f"No server at 127.0.0.1:{free_port}: start ssh_server.py"
    )


# --- The server survives bad clients --------------------------------------


@pytest.mark.asyncio
async def test_garbage_is_refused_and_the_server_goes_on(client, ssh_server):
    with socket.create_connection((ssh_server.host, ssh_server.port), 5) as sock:
        sock.settimeout(5)
        assert sock.recv(1024).startswith(b"SSH-2.0-")  # the server's greeting
        sock.sendall(bytes(range(256)) * 64)
        # The server hangs up on a client that does not speak SSH.
        while sock.recv(65536):
            pass
    assert await a_normal_session_works(client, ssh_server)


@pytest.mark.asyncio
async def test_client_that_vanishes_mid_upload_does_not_stop_the_server(
    client, ssh_server, tmp_path
):
    async with (
        connect(client, ssh_server) as conn,
        conn.start_sftp_client() as sftp,
    ):
        remote = await sftp.open(f"{tmp_path.name}.part", "wb")
        await remote.write(b"half a file")
        # Linger 0: closing sends a reset, as a crashed client's kernel does.
        sock = conn.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.abort()
    assert await a_normal_session_works(client, ssh_server)


@pytest.mark.asyncio
async def test_silent_client_does_not_hold_up_the_others(client, ssh_server):
    with socket.create_connection((ssh_server.host, ssh_server.port), 5) as silent:
        assert silent.recv(1024).startswith(b"SSH-2.0-")
        # It never says a word; meanwhile the others are served.
        assert await a_normal_session_works(client, ssh_server)
