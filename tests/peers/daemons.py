"""Start a peer's server on loopback, on a free port, and stop it by its id.

A daemon is given its port on the command line or in its configuration, so the
port is chosen just before it starts: another process may take it in between.
`run_daemon` notices (the daemon exits, or something else answers) and tries
again with a new port, a bounded number of times.
"""

from __future__ import annotations

import os
import signal
import socket
import string
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

START_TIMEOUT = 10.0  # seconds for a daemon to accept its first connection
STOP_TIMEOUT = 5.0  # seconds for it to exit after SIGTERM
ATTEMPTS = 3  # ports tried before giving up


@dataclass
class Daemon:
    """A peer server, running."""

    name: str
    host: str
    port: int
    folder: Path  # its configuration, logs and files
    process: subprocess.Popen
    values: dict[str, str] = field(default_factory=dict)  # what its templates got

    @property
    def log(self) -> str:
        return (self.folder / "daemon.log").read_text(errors="replace")


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the daemon binds it itself)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def render(template: Path, destination: Path, **values: object) -> Path:
    """Write `template` with its $names replaced; a name left unset fails."""
    text = string.Template(template.read_text(encoding="utf-8"))
    destination.write_text(text.substitute(values), encoding="utf-8")
    return destination


def accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _wait_until_listening(
    process: subprocess.Popen, host: str, port: int, ready: Callable[[], bool]
) -> bool:
    """True once the daemon accepts connections; False if it exited first.

    A daemon says nothing when it is ready, so this asks: a refused connection
    means "not yet". Each try is bounded and the whole wait has a deadline.
    """
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if accepts(host, port) and ready():
            return True
        try:  # paces the probe, and notices a daemon that exits at start
            process.wait(timeout=0.02)
            return False
        except subprocess.TimeoutExpired:
            pass
    pytest.fail(f"{process.args[0]} did not listen on {host}:{port} in time")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the daemon's process group (its workers too), then wait."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    # Workers left in the group (an sshd session, an FTP data process) too.
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def run_daemon(
    name: str,
    folder: Path,
    command: Callable[[int], Sequence[str | os.PathLike]],
    *,
    host: str = "127.0.0.1",
    ready: Callable[[], bool] = lambda: True,
    env: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Iterator[Daemon]:
    """Run `command(port)` until the block ends; its output goes to daemon.log.

    `command` renders the daemon's configuration for that port and returns its
    command line; the daemon must stay in the foreground.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for _attempt in range(ATTEMPTS):
        port = free_port(host)
        argv = [str(part) for part in command(port)]
        with open(folder / "daemon.log", "w") as log:
            process = subprocess.Popen(  # noqa: S603 (a peer from the tests' own list)
                argv, cwd=folder, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, **(env or {})},
            )  # fmt: skip
        try:
            if _wait_until_listening(process, host, port, ready):
                yield Daemon(name, host, port, folder, process, dict(values or {}))
                return
        finally:
            stop(process)
        log_text = (folder / "daemon.log").read_text(errors="replace")
        if "in use" not in log_text:
            pytest.fail(f"{name} exited at start:\n{log_text}", pytrace=False)
    pytest.fail(f"{name}: no free port after {ATTEMPTS} tries", pytrace=False)


def run_client(
    argv: Sequence[str | os.PathLike],
    *,
    input: str | bytes | None = None,
    timeout: float = 20.0,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess:
    """Run a peer client to its end; a timeout fails the test instead of hanging."""
    text = not isinstance(input, bytes)
    return subprocess.run(  # noqa: S603 (a peer from the tests' own list)
        [str(part) for part in argv], input=input, capture_output=True,
        text=text, timeout=timeout, check=False, cwd=cwd,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
