"""An SSH server to try SSH clients on: key logins, one command, SFTP in one folder.

    python ssh_keys.py        # once: the keys, in ssh-keys/
    python ssh_server.py

It lets in the holders of the keys in ssh-keys/authorized_keys, serves the
folder ssh-root/ (--root) over SFTP, and runs one command: sha256sum.
"""

import argparse
import asyncio
import functools
import hashlib
import logging
import shlex
import sys
from pathlib import Path

import asyncssh

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8022  # the standard port, 22, needs root (and has a server already)
KEYS = Path("ssh-keys")
ROOT = Path("ssh-root")
LOGIN_TIMEOUT = 30.0  # seconds a client has to log in before we hang up


# --8<-- [start:command]
def sha256sum(root: Path, names: list[str]) -> tuple[str, str, int]:
    """The sha256sum command, for files in `root` only: (stdout, stderr, status)."""
    output, errors = [], []
    for name in names:
        path = (root / name).resolve()
        # "../../etc/passwd" resolves outside the root: treat it as absent.
        if not path.is_relative_to(root.resolve()) or not path.is_file():
            errors.append(f"sha256sum: {name}: No such file\n")
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        output.append(f"{digest}  {name}\n")  # the format of GNU sha256sum
    return "".join(output), "".join(errors), 1 if errors else 0


async def run_command(process: asyncssh.SSHServerProcess, root: Path) -> None:
    """Run the client's command. A real server would start the user's shell;
    this one knows a single command, and runs no program of this machine."""
    try:
        words = shlex.split(process.command or "")  # None: a shell was asked for
    except ValueError:  # unbalanced quotes
        words = []
    if words[:1] == ["sha256sum"] and len(words) > 1:
        # Reading a large file takes a while: in a thread, so that the event
        # loop goes on serving the other clients meanwhile.
        output, errors, status = await asyncio.to_thread(sha256sum, root, words[1:])
    else:
        output, errors, status = "", "only sha256sum FILE... is available\n", 127
    process.stdout.write(output)
    process.stderr.write(errors)
    process.exit(status)
    user = process.get_extra_info("username")
    print(f"{user} ran {process.command!r}: exit status {status}", flush=True)


# --8<-- [end:command]
class OpenConnections(asyncssh.SSHServer):
    """Keeps the set of open connections, for the server to close when it stops."""

    def __init__(self, connections: set[asyncssh.SSHServerConnection]) -> None:
        self.connections = connections

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        self.connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self.conn)


# --8<-- [start:serve]
async def serve(host: str, port: int, keys: Path, root: Path) -> None:
    connections: set[asyncssh.SSHServerConnection] = set()
    # asyncssh takes file names as str: a Path here fails at the first login.
    server = await asyncssh.listen(
        host,
        port,
        server_host_keys=[str(keys / "host_key")],  # proves to clients who we are
        authorized_client_keys=str(keys / "authorized_keys"),  # who may log in
        password_auth=False,  # keys only: nothing to guess
        process_factory=functools.partial(run_command, root=root),
        # SFTP confined to `root`: "/" on the client is `root` here.
        sftp_factory=functools.partial(asyncssh.SFTPServer, chroot=root),
        allow_scp=False,
        login_timeout=LOGIN_TIMEOUT,
        server_factory=functools.partial(OpenConnections, connections),
    )
    host, port = server.sockets[0].getsockname()[:2]
    print(f"Listening on {host}:{port}", flush=True)
    try:
        # Not server.serve_forever(): on Ctrl+C it would wait for every
        # client to leave (Python 3.12 and later), an idle one included.
        await asyncio.get_running_loop().create_future()  # never done
    finally:  # Ctrl+C: stop listening, then close the connections still open
        server.close()
        for conn in list(connections):
            conn.close()
            await conn.wait_closed()
        await server.wait_closed()


# --8<-- [end:serve]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0 picks a free port")
    parser.add_argument("--keys", type=Path, default=KEYS, help="from ssh_keys.py")
    parser.add_argument("--root", type=Path, default=ROOT, help="the folder to serve")
    args = parser.parse_args()

    # asyncssh reports its problems with `logging`: to stdout, with our lines.
    logging.basicConfig(stream=sys.stdout, format="%(levelname)s %(message)s")
    args.root.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(serve(args.host, args.port, args.keys, args.root))
    except KeyboardInterrupt:
        print("Server stopped")


if __name__ == "__main__":
    main()
