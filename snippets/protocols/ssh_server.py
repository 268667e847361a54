"""An SSH server to try SSH clients on: key logins, a command, SFTP and scp.

    python ssh_keys.py        # once: the keys, in ssh-keys/
    python ssh_server.py      # --host ::1 for IPv6

It lets in the holders of the keys in ssh-keys/authorized_keys, serves the
folder ssh-root/ (--root) over SFTP and scp, and runs one command: sha256sum.
"""

import argparse
import asyncio
import contextlib
import errno
import functools
import hashlib
import logging
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import asyncssh

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8022  # the standard port, 22, needs root (and has a server already)
KEYS = Path("ssh-keys")
ROOT = Path("ssh-root")
MAX_BACKLOG = 1024 * 1024  # bytes of SFTP replies waiting for one client
READ_SIZE = 64 * 1024  # the most one SFTP read request gets


# --8<-- [start:limits]
@dataclass(frozen=True)
class Limits:
    """What one client may take; the page's table lists each."""

    login_timeout: float = 30.0  # s from connecting to logged in
    max_connections: int = 100  # at once; the next ones are turned away
    max_unknown_keys: int = 6  # keys tried per connection
    keepalive_interval: float = 10.0  # s of silence before asking "alive?"
    keepalive_count_max: int = 3  # unanswered questions before hanging up


# --8<-- [end:limits]
# --8<-- [start:command]
def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        # A MiB at a time: a file of any size, in little memory.
        while chunk := file.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def sha256sum(root: Path, names: list[str]) -> tuple[str, str, int]:
    """The sha256sum command, for files in `root` only.

    Returns (stdout, stderr, exit status). As in SFTP, "/" is `root`.
    """
    output, errors = [], []
    for name in names:
        # resolve() follows every symlink: "../../etc/passwd", and a link
        # to it, both end outside the root; treat them as absent.
        path = (root / name.lstrip("/")).resolve()
        if not path.is_relative_to(root.resolve()) or not path.is_file():
            errors.append(f"sha256sum: {name}: No such file\n")
            continue
        # The format of GNU sha256sum: checksum, two spaces, name.
        output.append(f"{file_sha256(path)}  {name}\n")
    return "".join(output), "".join(errors), 1 if errors else 0


async def run_command(process: asyncssh.SSHServerProcess, root: Path) -> None:
    """Run the client's command. A real server would start the user's shell;
    this one knows a single command, and runs no program of this machine."""
    try:
        words = shlex.split(process.command or "")  # None: a shell
    except ValueError:  # unbalanced quotes
        words = []
    if words[:1] == ["sha256sum"] and len(words) > 1:
        # Reading a large file takes a while: in a thread, so that the
        # event loop goes on serving the other clients meanwhile.
        result = await asyncio.to_thread(sha256sum, root, words[1:])
    else:
        result = "", "only sha256sum FILE... is available\n", 127
    output, errors, status = result
    process.stdout.write(output)
    process.stderr.write(errors)
    process.exit(status)
    user = process.get_extra_info("username")
    print(f"{user} ran {process.command!r}: exit status {status}", flush=True)


# --8<-- [end:command]
# --8<-- [start:sftp]
class ConfinedSFTPServer(asyncssh.SFTPServer):
    """SFTP in one folder: "/" is the folder, and no name leads out of it."""

    def __init__(
        self, chan: asyncssh.SSHServerChannel, root: Path, sessions: set
    ) -> None:
        # chroot maps names: the client's "/" is `root`, ".." stops there.
        super().__init__(chan, chroot=root)
        self.root = os.fsencode(root.resolve())
        self.ended = asyncio.Event()  # set once its files are closed
        self.sessions = sessions
        sessions.add(self)

    def map_path(self, path: bytes) -> bytes:
        local = super().map_path(path)
        # chroot confines names, not symlinks: a link already in the folder
        # may lead out of it (to /etc/passwd, say). Every method that takes
        # a path (open, stat, listdir, realpath, readlink...) asks here:
        # follow every link, and treat a path that ends outside as absent.
        real = os.path.realpath(local)
        if real != self.root and not real.startswith(self.root + b"/"):
            raise asyncssh.SFTPNoSuchFile("No such file")
        return local

    async def read(self, file_obj: object, offset: int, size: int) -> bytes:
        # asyncssh queues each reply at once, even for a client that has
        # stopped reading, and gives an SFTP server nothing to await until
        # the client catches up: check the backlog, 20 times a second.
        backlog = self.channel.get_write_buffer_size
        while backlog() > MAX_BACKLOG:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        return super().read(file_obj, offset, min(size, READ_SIZE))

    def exit(self) -> None:
        # The session is over. asyncssh would just close the channel, with
        # no exit status, and OpenSSH's scp (which uses SFTP) then exits 1
        # after a good copy. OpenSSH's sftp-server reports 0: do the same.
        self.channel.exit(0)
        self.sessions.discard(self)
        self.ended.set()


# --8<-- [end:sftp]
# --8<-- [start:connection]
class Connection(asyncssh.SSHServer):
    """One client's connection: counted, and capped with the others."""

    def __init__(self, open_ones: set["Connection"], limits: Limits) -> None:
        self.open_ones = open_ones
        self.limits = limits
        self.unknown_keys = 0

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        if len(self.open_ones) >= self.limits.max_connections:
            # Turned away after the greeting, as asyncssh sends it next.
            reason = "Too many connections: try again later"
            asyncio.get_running_loop().call_soon(
                conn.disconnect, asyncssh.DISC_TOO_MANY_CONNECTIONS, reason
            )
        else:
            self.open_ones.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.open_ones.discard(self)

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        # asyncssh asks here only about a key that authorized_keys does not
        # list: count them, so that a client cannot try keys for ever.
        self.unknown_keys += 1
        if self.unknown_keys >= self.limits.max_unknown_keys:
            reason = "Too many authentication failures"
            code = asyncssh.DISC_NO_MORE_AUTH_METHODS_AVAILABLE
            self.conn.disconnect(code, reason)
        return False


# --8<-- [end:connection]
def report_briefly(loop: asyncio.AbstractEventLoop, context: dict) -> None:
    """Out of file descriptors: one line per refused connection."""
    # asyncio logs a whole traceback for each accept() that fails; new
    # clients then wait in the system's queue while it retries every second.
    error = context.get("exception")
    if getattr(error, "errno", None) in (errno.EMFILE, errno.ENFILE):
        print(f"Cannot accept a connection now: {error.strerror}", flush=True)
    else:
        loop.default_exception_handler(context)


# --8<-- [start:serve]
async def serve(
    host: str,
    port: int,
    keys: Path,
    root: Path,
    limits: Limits,
) -> None:
    asyncio.get_running_loop().set_exception_handler(report_briefly)
    open_ones: set[Connection] = set()
    sftp_sessions: set[ConfinedSFTPServer] = set()
    # asyncssh takes file names as str: a Path here fails at the first login.
    server = await asyncssh.listen(
        host,
        port,
        server_host_keys=[str(keys / "host_key")],  # proves who we are
        authorized_client_keys=str(keys / "authorized_keys"),  # who may log in
        password_auth=False,  # keys only: nothing to guess
        process_factory=functools.partial(run_command, root=root),
        sftp_factory=functools.partial(
            ConfinedSFTPServer, root=root, sessions=sftp_sessions
        ),
        allow_scp=True,  # `scp -O`: files through ConfinedSFTPServer too
        server_factory=functools.partial(Connection, open_ones, limits),
        # Version line, key exchange and login: all within login_timeout.
        login_timeout=limits.login_timeout,
        # Ask a silent client whether it is still there; hang up on one
        # that does not answer (or no longer reads what we send).
        keepalive_interval=limits.keepalive_interval,
        keepalive_count_max=limits.keepalive_count_max,
        # Dropbear's client guesses that curve25519-sha256 will be chosen,
        # and sends its first key exchange message at once. asyncssh 2.24
        # keeps that message when the client's first choice is chosen;
        # RFC 4253 (and Dropbear) say to drop it unless both sides' first
        # choices agree, so Dropbear sends it again and asyncssh hangs up.
        # Naming Dropbear's guess first makes both sides agree; clients
        # choose by their own order, so this changes nothing else.
        kex_algs="^curve25519-sha256",
    )
    host, port = server.sockets[0].getsockname()[:2]
    print(f"Listening on {host}:{port}", flush=True)
    try:
        # Not server.serve_forever(): on Ctrl+C it would wait for every
        # client to leave (Python 3.12 and later), an idle one included.
        await asyncio.get_running_loop().create_future()  # never done
    finally:  # Ctrl+C: stop listening, then close the connections left
        server.close()
        for connection in list(open_ones):
            connection.conn.close()
            await connection.conn.wait_closed()
        # Their SFTP sessions end next, closing their files: wait for that.
        ends = (session.ended.wait() for session in sftp_sessions)
        with contextlib.suppress(asyncio.TimeoutError):  # 5 s at most
            await asyncio.wait_for(asyncio.gather(*ends), timeout=5)
        await server.wait_closed()


# --8<-- [end:serve]
def main() -> None:
    doc = (__doc__ or "An SSH server to try SSH clients on.").splitlines()
    parser = argparse.ArgumentParser(description=doc[0])
    parser.add_argument("--host", default=HOST, help="::1 for IPv6")
    parser.add_argument("--port", type=int, default=PORT, help="0: any free")
    parser.add_argument("--keys", type=Path, default=KEYS, help="its keys")
    parser.add_argument("--root", type=Path, default=ROOT, help="to serve")
    defaults = Limits()
    for name, value in vars(defaults).items():  # --login-timeout, ...
        option = "--" + name.replace("_", "-")
        parser.add_argument(option, type=type(value), default=value)
    args = parser.parse_args()
    limits = Limits(**{name: getattr(args, name) for name in vars(defaults)})

    # asyncssh reports its problems with `logging`: to stdout, with our lines.
    logging.basicConfig(stream=sys.stdout, format="%(levelname)s %(message)s")
    args.root.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(serve(args.host, args.port, args.keys, args.root, limits))
    except KeyboardInterrupt:
        print("Server stopped")


if __name__ == "__main__":
    main()
