"""Echo peers: socat and ncat as servers for the client snippets, and as
clients of the server snippets (TCP and UDP, IPv4 and IPv6).

Servers, each listening on 127.0.0.1 and ::1 on one port, for the session:

* `socat_tcp_echo`: `socat TCP-LISTEN:PORT,fork PIPE` sends back every byte
  of each connection and closes once the client has closed its side and the
  echo is out. A length-prefixed frame echoed verbatim is a valid framed
  reply, and a line a valid line.
* `ncat_tcp_echo`: `ncat --listen --keep-open --exec /bin/cat`. It may cut
  an echo short when a client half-closes with more than a few KiB still in
  flight (ncat closes once cat exits): use it for request-and-reply clients.
* `socat_udp_echo`: `socat UDP-RECVFROM:PORT,fork PIPE` answers each
  datagram with the same bytes.

Clients, run to their end with a deadline:

* `tcp_exchange(program, host, port, data)`: ncat or socat sends `data`,
  closes its sending side, and returns all the server sent until it closed.
* `udp_exchange(program, host, port, data)`: ncat or socat sends `data` in
  one datagram and returns the first datagram that comes back.

The peers run as `run_daemon` runs its daemons: from this process, in a
session of their own, stopped by process id (tests/peers/daemons.py).
"""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from peers.daemons import START_TIMEOUT, accepts, run_client, stop
from peers.programs import require

LOOPBACKS = ("127.0.0.1", "::1")
ATTEMPTS = 3  # ports tried before giving up
CLIENT_TIMEOUT = 10.0  # seconds for a peer client's whole run


@dataclass(frozen=True)
class EchoPeer:
    """An echo server that this project did not write, on every host given."""

    program: str  # a key of programs.PROGRAMS
    transport: str  # "tcp" or "udp"
    hosts: tuple[str, ...]
    port: int


def bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _server_command(program: str, transport: str, host: str, port: int) -> list[str]:
    path = require(program)
    family = "6" if ":" in host else "4"
    if program == "socat" and transport == "tcp":
        listen = f"TCP{family}-LISTEN:{port},bind={bracketed(host)},reuseaddr,fork"
        return [path, listen, "PIPE"]
    if program == "socat" and transport == "udp":
        return [
            path,
            f"UDP{family}-RECVFROM:{port},bind={bracketed(host)},fork",
            "PIPE",
        ]
    if program == "ncat" and transport == "tcp":
        return [path, "--listen", "--keep-open", "--exec", "/bin/cat", host, str(port)]
    raise ValueError(f"no {transport} echo server made with {program}")


def _port_free_on(hosts: Sequence[str], kind: int) -> int:
    """A port that was free a moment ago on every host (the peer binds it)."""
    for _ in range(20):
        with socket.socket(
            socket.AF_INET6 if ":" in hosts[0] else socket.AF_INET, kind
        ) as probe:
            probe.bind((hosts[0], 0))
            port = probe.getsockname()[1]
        if all(_bindable(host, port, kind) for host in hosts[1:]):
            return port
    pytest.fail(f"no port free on all of {hosts}")


def _bindable(host: str, port: int, kind: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def answers_udp(host: str, port: int) -> bool:
    """True once a datagram to host:port comes back (the peer is ready)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        # Connected, so that "port unreachable" (nothing bound yet) comes back
        # at once as ConnectionRefusedError rather than as a silent timeout.
        probe.settimeout(1.0)
        try:
            probe.connect((host, port))
            probe.send(b"ready?")
            return probe.recv(64) == b"ready?"
        except OSError:  # refused, or no answer in time: not yet
            return False


def _wait_until_serving(
    process: subprocess.Popen, transport: str, host: str, port: int
) -> bool:
    """True once the peer answers on host:port; False if it exited first."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if (answers_udp if transport == "udp" else accepts)(host, port):
            return True
        try:  # paces the probe, and notices a peer that exits at start
            process.wait(timeout=0.02)
            return False
        except subprocess.TimeoutExpired:
            pass
    pytest.fail(f"{process.args[0]} did not serve {host} port {port} in time")


@contextmanager
def run_echo_peer(
    program: str, transport: str, folder: Path, hosts: Sequence[str] = LOOPBACKS
) -> Iterator[EchoPeer]:
    """One peer process per host, all on one free port, until the block ends."""
    folder.mkdir(parents=True, exist_ok=True)
    kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
    for _attempt in range(ATTEMPTS):
        port = _port_free_on(hosts, kind)
        with ExitStack() as running:
            serving = True
            for index, host in enumerate(hosts):
                log_path = folder / f"{program}-{transport}-{index}.log"
                with open(log_path, "w") as log:
                    process = subprocess.Popen(  # noqa: S603 (a peer from the tests' own list)
                        _server_command(program, transport, host, port),
                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                        start_new_session=True, cwd=folder,
                    )  # fmt: skip
                running.callback(stop, process)
                if not _wait_until_serving(process, transport, host, port):
                    serving = False
                    break
            if serving:
                yield EchoPeer(program, transport, tuple(hosts), port)
                return
        logs = "\n".join(
            path.read_text(errors="replace") for path in folder.glob("*.log")
        )
        if "in use" not in logs:
            pytest.fail(f"{program} exited at start:\n{logs}", pytrace=False)
    pytest.fail(f"{program}: no free port after {ATTEMPTS} tries", pytrace=False)


@pytest.fixture(scope="session")
def ipv6_loopback() -> None:
    """Skip, saying why, on a machine without an IPv6 loopback (::1)."""
    if not socket.has_ipv6:
        pytest.skip("this Python was built without IPv6 support")
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError as error:
        pytest.skip(f"no IPv6 loopback on this machine: binding ::1 failed ({error})")


@pytest.fixture(scope="session")
def socat_tcp_echo(tmp_path_factory) -> Iterator[EchoPeer]:
    """socat echoing each TCP connection, on 127.0.0.1 and ::1 (one port)."""
    with run_echo_peer("socat", "tcp", tmp_path_factory.mktemp("socat-tcp")) as peer:
        yield peer


@pytest.fixture(scope="session")
def ncat_tcp_echo(tmp_path_factory) -> Iterator[EchoPeer]:
    """ncat running cat for each TCP connection, on 127.0.0.1 and ::1."""
    with run_echo_peer("ncat", "tcp", tmp_path_factory.mktemp("ncat-tcp")) as peer:
        yield peer


@pytest.fixture(scope="session")
def socat_udp_echo(tmp_path_factory) -> Iterator[EchoPeer]:
    """socat answering each UDP datagram with itself, on 127.0.0.1 and ::1."""
    with run_echo_peer("socat", "udp", tmp_path_factory.mktemp("socat-udp")) as peer:
        yield peer


# --- Peer clients ------------------------------------------------------------


def _client_command(program: str, transport: str, host: str, port: int) -> list[str]:
    path = require(program)
    if program == "ncat":
        return [path, *(["--udp"] if transport == "udp" else []), host, str(port)]
    if program == "socat":
        family = "6" if ":" in host else "4"
        target = f"{transport.upper()}{family}:{bracketed(host)}:{port}"
        # -t: after our side's end, how long socat waits for the other side
        # to close. The servers close at once; this only bounds a hang.
        return [path, "-t", "5", "-", target]
    raise ValueError(f"no {transport} client made with {program}")


def tcp_exchange(program: str, host: str, port: int, data: bytes) -> bytes:
    """What the server at host:port sent back to `program`, which sent `data`,
    then closed its sending side, and read until the server closed."""
    result = run_client(
        _client_command(program, "tcp", host, port), input=data, timeout=CLIENT_TIMEOUT
    )
    assert result.returncode == 0, f"{program} failed: {result.stderr!r}"
    return result.stdout


def udp_exchange(program: str, host: str, port: int, data: bytes) -> bytes:
    """The first datagram that comes back when `program` sends `data` in one.

    The client keeps reading the network while its standard input is open;
    once the reply is read, it is stopped (UDP has no end for it to wait for).
    """
    process = subprocess.Popen(  # noqa: S603 (a peer from the tests' own list)
        _client_command(program, "udp", host, port),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        process.stdin.write(data)
        process.stdin.flush()
        return _read_some(process.stdout, len(data), CLIENT_TIMEOUT)
    finally:
        stop(process)
        for stream in (process.stdin, process.stdout, process.stderr):
            with suppress(BrokenPipeError):
                stream.close()


def _read_some(stream, size: int, seconds: float) -> bytes:
    """Up to `size` bytes from a pipe, waiting at most `seconds` in all."""
    received = b""
    deadline = time.monotonic() + seconds
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while len(received) < size:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                break
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                break
            received += chunk
    return received
