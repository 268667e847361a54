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

from conftest import RunningServer

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
    process: RunningServer  # its output, once stopped

    @property
    def pid(self) -> int:
        return self.process.process.pid


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
        yield ShellServer(server.host, server.port, keys, root, server)


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


# --- The server under attack: each row of its limits table ------------------


def greeted(sock: socket.socket) -> bytes:
    """The server's version line, read as a client must before anything else."""
    sock.settimeout(5)
    line = sock.recv(256)
    assert line.startswith(b"SSH-2.0-"), line
    return line


def while_attacking(attack, *args):
    """Run a blocking attack in a thread; the caller goes on meanwhile."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    return pool, pool.submit(attack, *args)


@pytest.mark.hostile(SERVER, "silent", limit="Time to log in")
def test_a_silent_client_is_dropped_at_the_login_deadline(
    client, guarded_server, record_wait
):
    with attacks.connect(guarded_server.host, guarded_server.port) as sock:
        greeted(sock)
        record_wait(served_in(client, guarded_server))  # while it says nothing
        closed_after = attacks.closed_within(sock, LOGIN_TIMEOUT + 3)
    assert closed_after is not None, "a silent client kept its connection"


@pytest.mark.hostile(SERVER, "slow drip", limit="Time to log in")
def test_a_client_that_drips_its_version_line_is_dropped_at_the_deadline(
    client, guarded_server, record_wait
):
    with attacks.connect(guarded_server.host, guarded_server.port) as sock:
        greeted(sock)
        # A byte every 0.1 s: each one is news, so an idle timeout never
        # fires. The login deadline counts from the connection.
        line = b"SSH-2.0-" + b"d" * 200
        pool, drip = while_attacking(
            lambda: attacks.slow_drip(sock, line, every=0.1, for_at_most=10)
        )
        with pool:
            record_wait(served_in(client, guarded_server))
            dropped_after = drip.result()
    assert dropped_after is not None, "the drip went on for 10 s"
    assert dropped_after < LOGIN_TIMEOUT + 3


@pytest.mark.hostile(SERVER, "reset")
def test_a_reset_in_the_middle_of_the_key_exchange_harms_no_one(
    client, guarded_server, record_wait
):
    with attacks.connect(guarded_server.host, guarded_server.port) as sock:
        greeted(sock)
        # Our version, then the first half of a key exchange packet.
        sock.sendall(b"SSH-2.0-reset\r\n" + struct.pack(">IB", 1000, 4) + b"\x14")
        attacks.reset(sock)
    record_wait(served_in(client, guarded_server))


@pytest.mark.hostile(SERVER, "oversize", limit="Version line")
@pytest.mark.parametrize(
    "line", [b"SSH-2.0-" + b"v" * 1000 + b"\r\n", b"SSH-2.0-" + b"v" * 65536],
    ids=["1000 bytes", "64 KiB without a line end"],
)
def test_a_huge_version_line_is_refused_at_once(
    client, guarded_server, line, record_wait
):
    with attacks.connect(guarded_server.host, guarded_server.port) as sock:
        greeted(sock)
        try:
            sock.sendall(line)
        except ConnectionResetError:  # pragma: no cover (hung up mid-send)
            pass
        assert attacks.closed_within(sock, 2) is not None
    record_wait(served_in(client, guarded_server))


@pytest.mark.hostile(SERVER, "oversize", limit="Packet size")
def test_a_packet_over_the_size_limit_is_refused_at_once(
    client, guarded_server, record_wait
):
    with attacks.connect(guarded_server.host, guarded_server.port) as sock:
        greeted(sock)
        # A packet that says it is 16 MiB long: the server hangs up on
        # reading its first 8 bytes, without waiting for (or keeping) more.
        header = struct.pack(">IB", 16 * 1024 * 1024, 4) + b"\x14" + b"\0" * 2
        sock.sendall(b"SSH-2.0-big\r\n" + header)
        assert attacks.closed_within(sock, 2) is not None
    record_wait(served_in(client, guarded_server))


@pytest.mark.hostile(SERVER, "garbage", limit="Version line")
def test_garbage_is_refused_and_the_server_goes_on(
    client, guarded_server, record_wait
):
    with attacks.connect(guarded_server.host, guarded_server.port) as sock:
        greeted(sock)
        sock.sendall(bytes(range(256)) * 64)  # not "SSH-2.0-...", not text
        assert attacks.closed_within(sock, 2) is not None
    record_wait(served_in(client, guarded_server))


@pytest.mark.hostile(SERVER, "flood", limit="Connections at once")
def test_a_flood_of_connections_is_capped(client, guarded_server, record_wait):
    host, port = guarded_server.host, guarded_server.port
    with attacks.flood(host, port, 300) as sockets:
        assert len(sockets) > MAX_CONNECTIONS  # the attack got through TCP
        # While they hold every place, a newcomer is told why, at once.
        with pytest.raises(asyncssh.DisconnectError) as refused:
            asyncio.run(a_normal_session_works(client, guarded_server))
        assert refused.value.reason.startswith("Too many connections")
        # Those turned away were closed at once, the others at the login
        # deadline: all of them, without the attacker closing any.
        for sock in sockets:
            attacks.read_until_closed(sock, LOGIN_TIMEOUT + 5)
        record_wait(served_in(client, guarded_server))


@pytest.mark.hostile(SERVER, "flood", limit="Keys tried per connection")
def test_a_client_that_tries_key_after_key_is_cut_off(
    client, guarded_server, record_wait
):
    strangers = [asyncssh.generate_private_key("ssh-ed25519") for _ in range(5)]
    right_key = asyncssh.read_private_key(guarded_server.keys / "client_key")

    async def try_keys():
        async with asyncssh.connect(
            guarded_server.host, guarded_server.port, username="ada",
            known_hosts=str(guarded_server.keys / "known_hosts"),
            client_keys=[*strangers, right_key], agent_path=None,
        ):  # fmt: skip
            pass  # pragma: no cover (cut off before the right key)

    with pytest.raises(asyncssh.PermissionDenied) as cut_off:
        asyncio.run(try_keys())
    assert cut_off.value.reason == "Too many authentication failures"
    record_wait(served_in(client, guarded_server))


@pytest.mark.hostile(SERVER, "confinement", limit="Files served")
@pytest.mark.asyncio
async def test_symlinks_that_lead_out_are_refused(client, guarded_server, tmp_path):
    root = guarded_server.root
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not for clients")
    tag = uuid.uuid4().hex
    (root / f"{tag}-file").symlink_to(outside / "secret.txt")
    (root / f"{tag}-dir").symlink_to(outside)
    (root / f"{tag}-up").symlink_to("..")  # relative: up and out
    (root / f"{tag}-real.txt").write_text("served")
    (root / f"{tag}-inside").symlink_to(f"{tag}-real.txt")  # stays in: fine
    leading_out = [f"{tag}-file", f"{tag}-dir/secret.txt", f"{tag}-up/outside"]
    async with (
        connect(client, guarded_server) as conn,
        conn.start_sftp_client() as sftp,
    ):
        for name in leading_out:
            for attempt in (sftp.stat, sftp.realpath, sftp.readlink):
                with pytest.raises(asyncssh.SFTPNoSuchFile):
                    await attempt(name)
            with pytest.raises(asyncssh.SFTPNoSuchFile):
                await sftp.get(name, tmp_path / "stolen")
        with pytest.raises(asyncssh.SFTPNoSuchFile):
            await sftp.listdir(f"{tag}-dir")
        with pytest.raises(asyncssh.SFTPNoSuchFile):  # nor written through
            await sftp.put(tmp_path / "outside" / "secret.txt", f"{tag}-dir/new")
        # ".." stops at the served folder; a link that stays inside works.
        assert await sftp.realpath("../../..") == "/"
        await sftp.get(f"{tag}-inside", tmp_path / "copy", follow_symlinks=True)
        checksum = await conn.run(f"sha256sum {tag}-file", timeout=5)
    assert (tmp_path / "copy").read_text() == "served"
    assert not (tmp_path / "stolen").exists() and not (outside / "new").exists()
    assert checksum.stderr == f"sha256sum: {tag}-file: No such file\n"


@pytest.mark.hostile(SERVER, "confinement", limit="Files served")
@pytest.mark.asyncio
async def test_names_with_dot_dot_stay_in_the_served_folder(
    client, guarded_server, tmp_path
):
    secret = guarded_server.root.parent / "secret.txt"
    secret.write_text("not for clients")
    async with connect(client, guarded_server) as conn:
        result = await conn.run("sha256sum ../secret.txt", timeout=5)
        assert (result.exit_status, result.stdout) == (1, "")
        assert result.stderr == "sha256sum: ../secret.txt: No such file\n"
        # SFTP's "/" is the served folder: "../secret.txt" is "/secret.txt".
        with pytest.raises(asyncssh.SFTPNoSuchFile):
            await client.download(conn, "../secret.txt", tmp_path / "stolen")
    assert not (tmp_path / "stolen").exists()


@pytest.mark.hostile(SERVER, "reset")
@pytest.mark.asyncio
async def test_client_that_vanishes_mid_upload_does_not_stop_the_server(
    client, guarded_server
):
    async with (
        connect(client, guarded_server) as conn,
        conn.start_sftp_client() as sftp,
    ):
        remote = await sftp.open(a_name(".part"), "wb")
        await remote.write(b"half a file")
        # Linger 0: closing sends a reset, as a crashed client's kernel does.
        sock = conn.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.abort()
    assert await a_normal_session_works(client, guarded_server)


class Relay:
    """A TCP relay to a server that can stop reading what the server sends.

    Frozen, it plays a client that stops reading: the server's data piles up
    in the relay's socket, then in the server's, then in the server itself.
    """

    def __init__(self, host: str, port: int) -> None:
        self.target = host, port
        self.frozen = asyncio.Event()
        self.upstream: asyncio.StreamReader | None = None
        self.tasks: set[asyncio.Task] = set()

    @asynccontextmanager
    async def running(self):
        listener = await asyncio.start_server(self.relay, "127.0.0.1", 0)
        async with listener:
            yield listener.sockets[0].getsockname()[1]
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)

    async def relay(self, reader, writer) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.upstream = up_reader
        self.writers = writer, up_writer
        for task in (
            self.pump(reader, up_writer),
            self.pump(up_reader, writer, until=self.frozen),
        ):
            self.tasks.add(asyncio.create_task(task))

    @staticmethod
    async def pump(reader, writer, until: asyncio.Event | None = None) -> None:
        try:
            while not (until and until.is_set()) and (data := await reader.read(65536)):
                writer.write(data)
                await writer.drain()
        finally:
            if not until or not until.is_set():
                writer.close()

    async def closed_by_server_within(self, seconds: float) -> float:
        """Read what the server sent, to its end; how long until it hung up."""
        start = time.monotonic()
        async with asyncio.timeout(seconds):
            while await self.upstream.read(1 << 20):
                pass
        for writer in self.writers:
            writer.close()
        return time.monotonic() - start


@pytest.mark.hostile(SERVER, "non-reading", limit="Replies waiting for a client")
@pytest.mark.hostile(SERVER, "non-reading", limit="Time without an answer")
@pytest.mark.asyncio
async def test_a_client_that_stops_reading_is_bounded_then_dropped(
    client, start_server, keys_module, tmp_path, record_wait
):
    size, read_size = 40 * 1024 * 1024, 64 * 1024
    with running_server(start_server, keys_module, tmp_path, *GUARDED) as server:
        (server.root / "big.bin").write_bytes(os.urandom(size))
        async with connect(client, server) as conn, conn.start_sftp_client() as sftp:
            await sftp.getsize("big.bin")  # SFTP's code is loaded: a baseline
        before = attacks.memory_of(server.pid)["VmHWM"]
        relay = Relay(server.host, server.port)
        async with relay.running() as relay_port:
            known_hosts = asyncssh.import_known_hosts(
                f"[127.0.0.1]:{relay_port} "
                + (server.keys / "host_key.pub").read_text()
            )
            conn = await asyncssh.connect(
                "127.0.0.1", relay_port, username="ada", known_hosts=known_hosts,
                client_keys=[asyncssh.read_private_key(server.keys / "client_key")],
                agent_path=None,
            )  # fmt: skip
            try:
                sftp = await conn.start_sftp_client()
                remote = await sftp.open("big.bin", "rb")
                relay.frozen.set()
                # Ask for all of it at once, 640 reads in flight, and never
                # read a byte of the answers.
                reads = [
                    asyncio.ensure_future(remote.read(read_size, offset))
                    for offset in range(0, size, read_size)
                ]
                start = time.monotonic()
                await a_normal_session_works(client, server)  # meanwhile
                record_wait(time.monotonic() - start)
                dropped_after = await relay.closed_by_server_within(10)
                peak = attacks.memory_of(server.pid)["VmHWM"]
            finally:
                conn.abort()
                await conn.wait_closed()
            await asyncio.gather(*reads, return_exceptions=True)
    # Without a bound, the 40 MiB asked for would wait in the server.
    assert peak - before < 12 * 1024 * 1024, f"grew by {(peak - before) >> 20} MiB"
    assert dropped_after < 2 * KEEPALIVE * 3 + 2


@pytest.mark.hostile(SERVER, "fd exhaustion")
def test_running_out_of_file_descriptors_pauses_accepting_only(
    client, start_server, keys_module, tmp_path, record_wait
):
    low_limit = attacks.low_file_limit(32)
    with running_server(
        start_server, keys_module, tmp_path, *GUARDED, "--max-connections", "100",
        "--login-timeout", "0.5", preexec_fn=low_limit,
    ) as server:  # fmt: skip
        with attacks.flood(server.host, server.port, 40) as sockets:
            # Each connection takes a descriptor; the server runs out, stops
            # accepting for a second, and drops the silent ones at the
            # login deadline: all end, and the server is still there.
            for sock in sockets:
                attacks.read_until_closed(sock, 8)
        record_wait(served_in(client, server))
    assert "Cannot accept a connection now: Too many open files" in (
        server.process.output
    )
