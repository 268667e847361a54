"""Tests of the page "SSH" (docs/protocols/ssh.md).

Four groups: the snippets against each other; the server's limits under
attack (hostile); the clients against OpenSSH's sshd and Dropbear; the server
driven by OpenSSH's ssh, sftp and scp, and by Dropbear's dbclient (interop).
"""

import asyncio
import concurrent.futures
import hashlib
import os
import shutil
import socket
import struct
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest
from hostile import attacks
from peers.daemons import run_client
from peers.programs import require

SERVER = "protocols/ssh_server.py"
CLIENT = "protocols/ssh_client.py"
FAILURES = "protocols/ssh_failures.py"
KEYS = "protocols/ssh_keys.py"

# The guarded server's limits: small, so that each attack ends quickly.
LOGIN_TIMEOUT = 1.0
MAX_CONNECTIONS = 20
MAX_UNKNOWN_KEYS = 3
KEEPALIVE = 0.3  # seconds between questions; 2 unanswered and it hangs up
GUARDED = [
    "--login-timeout", str(LOGIN_TIMEOUT),
    "--max-connections", str(MAX_CONNECTIONS),
    "--max-unknown-keys", str(MAX_UNKNOWN_KEYS),
    "--keepalive-interval", str(KEEPALIVE),
    "--keepalive-count-max", "2",
]  # fmt: skip


@dataclass
class ShellServer:
    host: str
    port: int
    keys: Path  # host_key, client_key, authorized_keys, known_hosts
    root: Path  # the folder it serves over SFTP
    pid: int


@contextmanager
def running_server(
    start_server, keys_module, folder: Path, *options: str, preexec_fn=None
) -> Iterator[ShellServer]:
    """ssh_server.py with keys made by ssh_keys.py, and its known_hosts entry."""
    keys, root = folder / "keys", folder / "root"
    root.mkdir(parents=True)
    keys_module.make_keys(keys)
    arguments = ["--keys", str(keys), "--root", str(root), *options]
    with start_server(SERVER, *arguments, preexec_fn=preexec_fn) as server:
        # Host key checking stays on: known_hosts names the port it listens on.
        keys_module.write_known_hosts(keys, server.host, server.port)
        yield ShellServer(server.host, server.port, keys, root, server.process.pid)


@pytest.fixture(scope="module")
def keys_module(import_snippet_once):
    return import_snippet_once(KEYS)


@pytest.fixture(scope="module")
def ssh_server(
    start_server, tmp_path_factory, keys_module, idle_client
) -> Iterator[ShellServer]:
    """One server for the whole module, with its default limits."""
    folder = tmp_path_factory.mktemp("ssh")
    with (
        idle_client() as connect_idle,
        running_server(start_server, keys_module, folder) as server,
    ):
        # Held across the shutdown: Ctrl+C must not wait for an idle client.
        connect_idle(server.host, server.port)
        yield server


@pytest.fixture(scope="module")
def guarded_server(start_server, tmp_path_factory, keys_module):
    """A server with small limits, for the attacks."""
    folder = tmp_path_factory.mktemp("ssh-guarded")
    with running_server(start_server, keys_module, folder, *GUARDED) as server:
        yield server


@pytest.fixture
def client(import_snippet):
    return import_snippet(CLIENT)


def connect(client, server: ShellServer, **changes):
    """Connect as the reader's program does, with some arguments changed."""
    arguments = {
        "host": server.host, "port": server.port, "user": "ada",
        "known_hosts": asyncssh.read_known_hosts(str(server.keys / "known_hosts")),
        "key": asyncssh.read_private_key(server.keys / "client_key"),
    } | changes  # fmt: skip
    return client.connect(**arguments)


async def a_normal_session_works(client, server: ShellServer) -> bool:
    """What follows every bad input: the server still serves a client."""
    async with connect(client, server) as conn:
        result = await conn.run("sha256sum", timeout=5)
    return result.exit_status == 127  # it answered: no file name, no checksum


def served_in(client, server: ShellServer) -> float:
    """Seconds a well-behaved client takes to log in and run a command."""
    start = time.monotonic()
    assert asyncio.run(a_normal_session_works(client, server))
    return time.monotonic() - start


def a_name(suffix: str = ".bin") -> str:
    """A file name no other test uses: the tests share servers."""
    return uuid.uuid4().hex + suffix


def client_arguments(server: ShellServer, *more: str) -> list[str]:
    return [
        "--host", server.host, "--port", str(server.port),
        "--key", str(server.keys / "client_key"),
        "--known-hosts", str(server.keys / "known_hosts"), *more,
    ]  # fmt: skip


# --- Commands and transfers -----------------------------------------------


def test_client_program_transfers_and_checks_a_file(run_example, ssh_server):
    name = a_name(".csv")
    run_example(CLIENT, *client_arguments(ssh_server, "--remote", name))
    assert (ssh_server.root / name).is_file()


@pytest.mark.asyncio
async def test_file_arrives_and_returns_byte_for_byte(client, ssh_server, tmp_path):
    data = os.urandom(1_000_000) + b"\r\n\n\r"
    original, copy = tmp_path / "original", tmp_path / "copy"
    original.write_bytes(data)
    name = a_name()
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
async def test_a_slash_means_the_served_folder_for_the_command_too(
    client, ssh_server
):
    name = a_name(".txt")
    (ssh_server.root / name).write_bytes(b"rooted")
    async with connect(client, ssh_server) as conn:
        # SFTP's "/" is the served folder; the command agrees.
        assert await client.remote_sha256(conn, f"/{name}") == (
            hashlib.sha256(b"rooted").hexdigest()
        )


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


def test_keys_program_writes_brackets_for_ipv6(keys_module, tmp_path):
    keys_module.make_keys(tmp_path)
    keys_module.write_known_hosts(tmp_path, "::1", 8022)
    assert (tmp_path / "known_hosts").read_text().startswith("[::1]:8022 ssh-ed25519 ")


# --- Each failure, one clear line -----------------------------------------


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
    await failures.log_in(
        ssh_server.host, ssh_server.port, "ada", known_hosts, [our_key]
    )


def exit_message(run_example, *arguments: str) -> str:
    """The one line that the client program exits with."""
    with pytest.raises(SystemExit) as exit_info:
        run_example(CLIENT, *arguments)
    return exit_info.value.code


def test_client_program_refuses_a_server_it_does_not_know(
    run_example, ssh_server, tmp_path
):
    # The reader's keys, but known_hosts lists another key for this server.
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key()
    entry = f"[{ssh_server.host}]:{ssh_server.port} {impostor.decode()}"
    (tmp_path / "known_hosts").write_text(entry)
    arguments = client_arguments(ssh_server, "--known-hosts", str(tmp_path / "known_hosts"))
    assert exit_message(run_example, *arguments) == (
        f"{ssh_server.host} port {ssh_server.port}:"
        " not the host key known_hosts lists: is it up to date?"
    )


def test_client_program_says_when_the_login_is_refused(
    run_example, ssh_server, tmp_path, monkeypatch
):
    stranger = tmp_path / "stranger"
    stranger.write_bytes(
        asyncssh.generate_private_key("ssh-ed25519").export_private_key()
    )
    monkeypatch.setenv("SSH_PASSWORD", "guess")  # the server takes none
    arguments = client_arguments(ssh_server, "--key", str(stranger))
    assert exit_message(run_example, *arguments) == (
        f"{ssh_server.host} port {ssh_server.port}:"
        " login refused: wrong user, key or password"
    )


def test_client_program_says_what_to_do_when_no_server(
    run_example, ssh_server, free_port
):
    arguments = client_arguments(ssh_server, "--port", str(free_port))
    assert exit_message(run_example, *arguments) == (
        f"127.0.0.1 port {free_port}: connection refused: is the server running?"
    )


def test_client_program_tells_a_silent_server_from_no_server(
    run_example, ssh_server, silent_server
):
    # A listening port that never answers: a timeout, not "refused".
    host, port = silent_server
    arguments = client_arguments(
        ssh_server, "--host", host, "--port", str(port), "--timeout", "0.2"
    )
    assert exit_message(run_example, *arguments) == (
        f"{host} port {port}: no answer in time: busy, or packets dropped?"
    )


def test_client_program_names_an_sftp_failure(run_example, ssh_server):
    arguments = client_arguments(ssh_server, "--remote", "no/such/folder/x.csv")
    assert exit_message(run_example, *arguments) == (
        f"{ssh_server.host} port {ssh_server.port}: SFTP: No such file or directory"
    )


def test_client_program_needs_a_key_or_a_password(run_example, ssh_server, tmp_path):
    arguments = client_arguments(ssh_server, "--key", str(tmp_path / "none"))
    assert exit_message(run_example, *arguments) == (
        f"No key {tmp_path / 'none'} and no SSH_PASSWORD: run ssh_keys.py"
    )
    (tmp_path / "garbled").write_text("not a key")
    arguments = client_arguments(ssh_server, "--key", str(tmp_path / "garbled"))
    assert exit_message(run_example, *arguments).startswith(
        f"{tmp_path / 'garbled'}: not a usable private key: "
    )
    arguments = client_arguments(ssh_server, "--known-hosts", str(tmp_path / "kh"))
    assert exit_message(run_example, *arguments) == (
        f"No {tmp_path / 'kh'}: run ssh_keys.py, or name yours"
    )


def test_each_other_failure_gets_its_own_line(client):
    where = "example.test port 22"
    command_failed = asyncssh.ProcessError(
        None, "sha256sum x", None, 1, None, 1, "", "x: denied\n"
    )
    refused = asyncssh.ChannelOpenError(asyncssh.OPEN_CONNECT_FAILED, "Session refused")
    hung_up = asyncssh.ConnectionLost("Connection lost")
    unreachable = OSError(101, "Network is unreachable")
    assert [client.explain(error, where) for error in (
        command_failed, refused, hung_up, unreachable
    )] == [
        f"{where}: exit status 1: x: denied",
        f"{where}: Session refused",
        f"{where}: the server hung up: Connection lost",
        f"{where}: Network is unreachable",
    ]  # fmt: skip
