"""Tests of the page "SSH" (docs/protocols/ssh.md).

Four groups: the snippets against each other; the server's limits under
attack (hostile); the clients against OpenSSH's sshd and Dropbear; the server
driven by OpenSSH's ssh, sftp and scp, and by Dropbear's dbclient (interop).
"""

import asyncio
import concurrent.futures
import contextlib
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
from conftest import RunningServer
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
KEEPALIVE = 0.2  # seconds between questions; 2 unanswered and it hangs up
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
async def test_a_slash_means_the_served_folder_for_the_command_too(client, ssh_server):
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
    arguments = client_arguments(
        ssh_server, "--known-hosts", str(tmp_path / "known_hosts")
    )
    assert exit_message(run_example, *arguments) == (
        f"{ssh_server.host} port {ssh_server.port}:"
        " host key not as in known_hosts: is it up to date?"
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
    "line",
    [b"SSH-2.0-" + b"v" * 1000 + b"\r\n", b"SSH-2.0-" + b"v" * 65536],
    ids=["1000 bytes", "64 KiB without a line end"],
)
def test_a_huge_version_line_is_refused_at_once(
    client, guarded_server, line, record_wait
):
    with attacks.connect(guarded_server.host, guarded_server.port) as sock:
        greeted(sock)
        with contextlib.suppress(ConnectionResetError):  # hung up mid-send
            sock.sendall(line)
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
def test_garbage_is_refused_and_the_server_goes_on(client, guarded_server, record_wait):
    with attacks.connect(guarded_server.host, guarded_server.port) as sock:
        greeted(sock)
        sock.sendall(bytes(range(256)) * 64)  # not "SSH-2.0-...", not text
        assert attacks.closed_within(sock, 2) is not None
    record_wait(served_in(client, guarded_server))


@pytest.mark.hostile(SERVER, "flood", limit="Connections at once")
def test_a_flood_of_connections_is_capped(
    client, start_server, keys_module, tmp_path, record_wait
):
    # A login deadline of 3 s: the flood still holds every place when the
    # newcomer arrives, even on a machine too busy to connect within 1 s.
    login_timeout = 3.0
    options = [*GUARDED[2:], "--login-timeout", str(login_timeout)]  # 3 s, not 1
    with (
        running_server(start_server, keys_module, tmp_path, *options) as server,
        attacks.flood(server.host, server.port, 200) as sockets,
    ):
        assert len(sockets) > MAX_CONNECTIONS  # the attack got through TCP
        # While they hold every place, a newcomer is told why, at once.
        with pytest.raises(asyncssh.DisconnectError) as refused:
            asyncio.run(a_normal_session_works(client, server))
        assert refused.value.reason.startswith("Too many connections")
        # Those turned away were closed at once, the others at the login
        # deadline: all of them, without the attacker closing any.
        for sock in sockets:
            attacks.read_until_closed(sock, login_timeout + 5)
        record_wait(served_in(client, server))


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
    assert not (tmp_path / "stolen").exists()
    assert not (outside / "new").exists()
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

        async def read_to_the_end():
            while await self.upstream.read(1 << 20):
                pass

        await asyncio.wait_for(read_to_the_end(), seconds)
        for writer in self.writers:
            writer.close()
        return time.monotonic() - start


@pytest.mark.hostile(SERVER, "non-reading", limit="Replies waiting for a client")
@pytest.mark.hostile(SERVER, "non-reading", limit="Time without an answer")
@pytest.mark.asyncio
async def test_a_client_that_stops_reading_is_bounded_then_dropped(
    client, start_server, keys_module, tmp_path, record_wait
):
    size, read_size = 20 * 1024 * 1024, 64 * 1024
    with running_server(start_server, keys_module, tmp_path, *GUARDED) as server:
        (server.root / "big.bin").write_bytes(bytes(size))
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
                # Ask for all of it at once, 320 reads in flight, and never
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
    # Without a bound, the 20 MiB asked for would wait in the server.
    assert peak - before < 10 * 1024 * 1024, f"grew by {(peak - before) >> 20} MiB"
    assert dropped_after < KEEPALIVE * 3 + 1  # 3 silences, and some slack


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


# --- The clients against real servers: OpenSSH's sshd and Dropbear ----------


@dataclass
class PeerServer:
    host: str
    port: int
    user: str
    password: str
    home: Path  # where relative names land
    keys: Path  # client_key from ssh_keys.py; known_hosts for this server


def peer_server(daemon, login, keys_module, folder: Path) -> PeerServer:
    keys_module.make_keys(folder)  # the reader's client key, from ssh_keys.py
    entries = [f"[{host}]:{daemon.port} {daemon.values['host_key']}\n"
               for host in ("127.0.0.1", "::1")]  # fmt: skip
    (folder / "known_hosts").write_text("".join(entries))
    return PeerServer(
        daemon.host, daemon.port, login.user, login.password, login.home, folder
    )


@pytest.fixture(scope="module")
def sshd(openssh_sshd, ssh_login, keys_module, tmp_path_factory) -> PeerServer:
    server = peer_server(
        openssh_sshd, ssh_login, keys_module, tmp_path_factory.mktemp("sshd-keys")
    )
    # sshd lets in the key that ssh_keys.py made (AuthorizedKeysFile).
    with open(openssh_sshd.values["authorized_keys"], "a") as authorized:
        authorized.write((server.keys / "client_key.pub").read_text())
    return server


@pytest.fixture(scope="module")
def dropbear(dropbear_server, ssh_login, keys_module, tmp_path_factory):
    folder = tmp_path_factory.mktemp("dropbear-keys")
    return peer_server(dropbear_server, ssh_login, keys_module, folder)


@pytest.fixture
def remote_name(request) -> Iterator[str]:
    """A file name in the test account's home, removed after the test."""
    name = a_name(".csv")
    yield name
    for peer in ("sshd", "dropbear"):
        if peer in request.fixturenames:
            (request.getfixturevalue(peer).home / name).unlink(missing_ok=True)


def peer_arguments(server: PeerServer, *more: str) -> list[str]:
    return [
        "--host", server.host, "--port", str(server.port), "--user", server.user,
        "--key", str(server.keys / "client_key"),
        "--known-hosts", str(server.keys / "known_hosts"), *more,
    ]  # fmt: skip


@pytest.mark.interop(CLIENT, "sshd", "key login; SFTP up and down; a command")
@pytest.mark.interop(KEYS, "sshd", "its client key, in an AuthorizedKeysFile")
def test_client_program_works_with_openssh_and_a_key(run_example, sshd, remote_name):
    run_example(CLIENT, *peer_arguments(sshd, "--remote", remote_name))
    assert (sshd.home / remote_name).is_file()  # in the user's home


@pytest.mark.interop(CLIENT, "sshd", "password from SSH_PASSWORD, over IPv6")
def test_client_program_logs_in_to_openssh_with_a_password_over_ipv6(
    run_example, sshd, remote_name, tmp_path, monkeypatch
):
    monkeypatch.setenv("SSH_PASSWORD", sshd.password)
    no_key = str(tmp_path / "no-key")
    arguments = peer_arguments(sshd, "--host", "::1", "--key", no_key)
    run_example(CLIENT, *arguments, "--remote", remote_name)
    assert (sshd.home / remote_name).is_file()


@pytest.mark.interop(CLIENT, "sshd", "a refused login and an unknown host key")
def test_client_program_names_what_openssh_refused(
    run_example, sshd, tmp_path, monkeypatch
):
    monkeypatch.setenv("SSH_PASSWORD", "not-" + sshd.password)
    arguments = peer_arguments(sshd, "--key", str(tmp_path / "no-key"))
    assert exit_message(run_example, *arguments) == (
        f"127.0.0.1 port {sshd.port}: login refused: wrong user, key or password"
    )
    # Our server's known_hosts: not the key sshd has.
    (tmp_path / "known_hosts").write_text(
        f"[127.0.0.1]:{sshd.port} "
        + asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    )
    arguments = peer_arguments(sshd, "--known-hosts", str(tmp_path / "known_hosts"))
    assert exit_message(run_example, *arguments) == (
        f"127.0.0.1 port {sshd.port}: host key not as in known_hosts: is it up to date?"
    )


@pytest.mark.interop(FAILURES, "sshd", "each failure raises the exception named")
@pytest.mark.asyncio
async def test_failures_program_against_openssh(import_snippet, sshd, capsys):
    failures = import_snippet(FAILURES)
    await failures.show_failures(sshd.host, sshd.port, sshd.user, sshd.keys)
    refused = f"PermissionDenied: Permission denied for user {sshd.user} on host"
    assert capsys.readouterr().out.splitlines() == [
        f"{refused} 127.0.0.1",
        f"{refused} 127.0.0.1",
        "HostKeyNotVerifiable: Host key is not trusted for host 127.0.0.1",
        "ConnectionRefusedError: Connection refused",
        "TimeoutError: no answer in time",
    ]


@pytest.mark.interop(CLIENT, "dropbear", "password login; SFTP up and down; a command")
def test_client_program_works_with_dropbear(
    run_example, dropbear, remote_name, tmp_path, monkeypatch
):
    monkeypatch.setenv("SSH_PASSWORD", dropbear.password)
    arguments = peer_arguments(dropbear, "--key", str(tmp_path / "no-key"))
    run_example(CLIENT, *arguments, "--remote", remote_name)
    assert (dropbear.home / remote_name).is_file()


# --- The server driven by real clients: OpenSSH and Dropbear's dbclient -----


def openssh(program: str, server: ShellServer, *args: str) -> list:
    """A command line for OpenSSH's ssh, sftp or scp, aimed at `server`.

    Strict host key checking with the known_hosts that ssh_keys.py wrote
    (never StrictHostKeyChecking=no), this key only, no ~/.ssh/config.
    """
    return [
        require(program), "-F", "/dev/null",
        "-o", f"UserKnownHostsFile={server.keys / 'known_hosts'}",
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "StrictHostKeyChecking=yes", "-o", "UpdateHostKeys=no",
        "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
        "-o", "ConnectTimeout=10", "-i", server.keys / "client_key",
        "-p" if program == "ssh" else "-P", str(server.port), *args,
    ]  # fmt: skip


@pytest.mark.interop(SERVER, "ssh", "a command: output and exit status 0, 1, 127")
@pytest.mark.interop(KEYS, "ssh", "known_hosts and key, StrictHostKeyChecking=yes")
def test_openssh_runs_a_command_and_gets_its_exit_status(ssh_server):
    name = a_name(".txt")
    (ssh_server.root / name).write_bytes(b"checked\n")
    target = f"ada@{ssh_server.host}"
    found = run_client(openssh("ssh", ssh_server, target, "sha256sum", name))
    missing = run_client(openssh("ssh", ssh_server, target, "sha256sum", "none"))
    other = run_client(openssh("ssh", ssh_server, target, "uptime"))
    digest = hashlib.sha256(b"checked\n").hexdigest()
    assert (found.returncode, found.stdout) == (0, f"{digest}  {name}\n")
    assert (missing.returncode, missing.stderr) == (
        1,
        "sha256sum: none: No such file\n",
    )
    assert (other.returncode, other.stderr) == (
        127,
        "only sha256sum FILE... is available\n",
    )


@pytest.mark.interop(KEYS, "ssh", "a host key not in known_hosts is refused")
def test_openssh_refuses_a_server_whose_key_it_does_not_know(ssh_server, tmp_path):
    keys = tmp_path / "keys"
    shutil.copytree(ssh_server.keys, keys)
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key()
    (keys / "known_hosts").write_text(
        f"[{ssh_server.host}]:{ssh_server.port} {impostor.decode()}"
    )
    server = ShellServer(
        ssh_server.host, ssh_server.port, keys, ssh_server.root, ssh_server.process
    )
    result = run_client(openssh("ssh", server, f"ada@{server.host}", "sha256sum"))
    assert result.returncode == 255
    assert "Host key verification failed." in result.stderr


@pytest.mark.interop(SERVER, "sftp", "put, ls and get in batch mode")
def test_sftp_puts_lists_and_gets(ssh_server, tmp_path):
    name = a_name(".bin")
    data = os.urandom(300_000)
    (tmp_path / "up.bin").write_bytes(data)
    batch = f"put up.bin {name}\nls -l {name}\nget {name} down.bin\n"
    result = run_client(
        openssh("sftp", ssh_server, "-b", "-", f"ada@{ssh_server.host}"),
        input=batch, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert name in result.stdout  # the listing
    assert (ssh_server.root / name).read_bytes() == data
    assert (tmp_path / "down.bin").read_bytes() == data


@pytest.mark.hostile(SERVER, "confinement", limit="Files served")
@pytest.mark.interop(SERVER, "sftp", "a symlink that leads out is not found")
def test_sftp_cannot_follow_a_symlink_out(ssh_server, tmp_path):
    name = a_name("-passwd")
    (ssh_server.root / name).symlink_to("/etc/passwd")
    result = run_client(
        openssh("sftp", ssh_server, "-b", "-", f"ada@{ssh_server.host}"),
        input=f"get {name} stolen\n", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1
    assert f'File "/{name}" not found.' in result.stderr
    assert not (tmp_path / "stolen").exists()


@pytest.mark.interop(SERVER, "scp", "up and down, exit status 0: SFTP and -O")
@pytest.mark.parametrize("protocol", [[], ["-O"]], ids=["sftp", "legacy"])
def test_scp_copies_both_ways_and_exits_0(ssh_server, tmp_path, protocol):
    name = a_name(".bin")
    data = os.urandom(200_000)
    (tmp_path / "up.bin").write_bytes(data)
    remote = f"ada@{ssh_server.host}:{name}"
    up = run_client(openssh("scp", ssh_server, *protocol, tmp_path / "up.bin", remote))
    down = run_client(openssh("scp", ssh_server, *protocol, remote, tmp_path / "down"))
    # The defect was here: the copy was made, and scp still exited 1.
    assert (up.returncode, up.stderr) == (0, "")
    assert (down.returncode, down.stderr) == (0, "")
    assert (ssh_server.root / name).read_bytes() == data
    assert (tmp_path / "down").read_bytes() == data


@pytest.mark.hostile(SERVER, "confinement", limit="Files served")
@pytest.mark.interop(SERVER, "scp", "a symlink that leads out: exit status 1")
@pytest.mark.parametrize("protocol", [[], ["-O"]], ids=["sftp", "legacy"])
def test_scp_cannot_follow_a_symlink_out(ssh_server, tmp_path, protocol):
    name = a_name("-passwd")
    (ssh_server.root / name).symlink_to("/etc/passwd")
    remote = f"ada@{ssh_server.host}:{name}"
    result = run_client(openssh("scp", ssh_server, *protocol, remote, tmp_path / "x"))
    # "...: No such file or directory" (SFTP); "No matches found" (-O:
    # asyncssh expands the name as a pattern; nothing that leads out matches).
    assert result.returncode == 1
    assert "No such file" in result.stderr or "No matches" in result.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.interop(SERVER, "dbclient", "key exchange with a client that guesses")
def test_dropbear_client_connects_and_runs_a_command(ssh_server, tmp_path):
    # dbclient reads ~/.ssh/known_hosts, with no port (Dropbear 2022), and
    # a key in its own format: dropbearconvert makes it from ssh_keys.py's.
    dbclient = require("dbclient")
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    host_key = (ssh_server.keys / "host_key.pub").read_text()
    (home / ".ssh" / "known_hosts").write_text(f"{ssh_server.host} {host_key}")
    key = tmp_path / "client_key.dropbear"
    convert = shutil.which("dropbearconvert") or "dropbearconvert"
    subprocess.run(  # noqa: S603 (Dropbear's own tool)
        [convert, "openssh", "dropbear", ssh_server.keys / "client_key", key],
        check=True, capture_output=True, timeout=20,
    )  # fmt: skip
    name = a_name(".txt")
    (ssh_server.root / name).write_bytes(b"dropbear\n")
    result = run_client(
        [dbclient, "-p", str(ssh_server.port), "-i", key,
         f"ada@{ssh_server.host}", "sha256sum", name],
        env={"HOME": str(home)}, input="",
    )  # fmt: skip
    # Before the fix: "Disconnect received" ("Key exchange not in progress").
    assert result.returncode == 0, result.stderr
    digest = hashlib.sha256(b"dropbear\n").hexdigest()
    assert result.stdout == f"{digest}  {name}\n"


@pytest.mark.interop(SERVER, "ssh", "--host ::1: IPv6")
def test_the_server_listens_on_ipv6(
    start_server, keys_module, tmp_path, run_example, import_snippet, capsys
):
    with running_server(start_server, keys_module, tmp_path, "--host", "::1") as server:
        assert server.host == "::1"
        result = run_client(openssh("ssh", server, "ada@::1", "sha256sum"))
        run_example(CLIENT, *client_arguments(server, "--remote", "v6.csv"))
        failures = import_snippet(FAILURES)
        asyncio.run(failures.show_failures("::1", server.port, "ada", server.keys))
    assert result.returncode == 127
    assert (server.root / "v6.csv").is_file()
    # The failures program over IPv6: the same exceptions, for host ::1.
    lines = capsys.readouterr().out.splitlines()[-5:]
    assert [line.split(":")[0] for line in lines] == [
        "PermissionDenied", "PermissionDenied", "HostKeyNotVerifiable",
        "ConnectionRefusedError", "TimeoutError",
    ]  # fmt: skip
    assert lines[0].endswith("for user ada on host ::1")


@pytest.mark.interop(
    KEYS, "ssh-keygen", "its keys, read by ssh-keygen: same fingerprints"
)
def test_ssh_keygen_reads_the_keys_and_agrees_on_fingerprints(keys_module, tmp_path):
    keys_module.make_keys(tmp_path)
    for name in ("host_key", "client_key"):
        key = asyncssh.read_private_key(tmp_path / name)
        listed = run_client([require("ssh-keygen"), "-l", "-f", tmp_path / name])
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.split()[1] == key.get_fingerprint("sha256")


# --- Stopping ---------------------------------------------------------------


@pytest.mark.asyncio
async def test_ctrl_c_ends_sftp_sessions_with_their_files_closed(
    client, start_server, keys_module, tmp_path
):
    # The server's process runs with -W error: a file left open at exit
    # would print a ResourceWarning on its stderr, and fail this test.
    with running_server(start_server, keys_module, tmp_path) as server:
        (server.root / "open.bin").write_bytes(b"x" * 1000)
        conn = await connect(client, server)
        sftp = await conn.start_sftp_client()
        await sftp.open("open.bin", "rb")
    # Stopped: the connection was closed by the server.
    await conn.wait_closed()
    sftp.exit()


def test_other_event_loop_errors_keep_asyncios_report(import_snippet, caplog):
    server = import_snippet(SERVER)
    loop = asyncio.new_event_loop()
    try:
        server.report_briefly(loop, {"message": "something else went wrong"})
    finally:
        loop.close()
    assert [record.getMessage() for record in caplog.records] == [
        "something else went wrong"
    ]


@pytest.mark.parametrize("program", [SERVER, CLIENT, FAILURES, KEYS])
def test_a_program_pasted_without_its_docstring_still_starts(
    program, capsys, monkeypatch
):
    # A reader who copies the code of a page, not the file, has no module
    # docstring: __doc__ is None, and main() must not depend on it.
    import ast
    import sys
    import types

    from conftest import snippet

    tree = ast.parse(snippet(program).read_text(encoding="utf-8"))
    assert isinstance(tree.body[0].value, ast.Constant)  # the docstring
    del tree.body[0]
    pasted = types.ModuleType("pasted")
    monkeypatch.setitem(sys.modules, "pasted", pasted)
    exec(compile(tree, program, "exec"), pasted.__dict__)  # noqa: S102 (our snippet)
    assert pasted.__doc__ is None
    monkeypatch.setattr(sys, "argv", ["pasted.py", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        pasted.main()
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("usage: pasted.py")
