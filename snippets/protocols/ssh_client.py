"""Transfer a file over SFTP and run a command over SSH, with asyncssh.

Start ssh_server.py first, then:

    python ssh_client.py                # the server of this page
    python ssh_client.py --host ::1     # the same, over IPv6

It logs in as ada (--user, or $SSH_USER) with the key ssh-keys/client_key
(--key, or $SSH_KEY), and with the password in $SSH_PASSWORD if that is set.
It trusts the server only if its host key is the one that ssh-keys/known_hosts
(--known-hosts) lists for that host and port.
"""

import argparse
import asyncio
import hashlib
import os
import shlex
import sys
import tempfile
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import asyncssh

HOST = "127.0.0.1"
PORT = 8022  # a real server listens on 22
USER = "ada"
KEYS = Path("ssh-keys")
TIMEOUT = 10.0  # seconds: to connect and log in, and for a command to finish


# --8<-- [start:connect]
def connect(
    host: str,
    port: int,
    user: str,
    known_hosts: asyncssh.SSHKnownHosts,
    key: asyncssh.SSHKey | None = None,
    password: str | None = None,
    timeout: float = TIMEOUT,
) -> AbstractAsyncContextManager[asyncssh.SSHClientConnection]:
    """Connect and log in: use as `async with connect(...) as conn`."""
    return asyncssh.connect(
        host,
        port,
        username=user,
        # The server's host key must be the one listed here for host and
        # port, or connect() raises HostKeyNotVerifiable.
        known_hosts=known_hosts,
        # This key and this password only: None, not [], for no key (an
        # empty list means "the keys in ~/.ssh"), and no agent's keys.
        client_keys=[key] if key else None,
        agent_path=None,
        password=password,
        connect_timeout=timeout,  # covers TCP, key exchange and login
        # A server that stops answering mid-transfer is noticed in 40 s.
        keepalive_interval=10,
        keepalive_count_max=3,
    )


# --8<-- [end:connect]
# --8<-- [start:work]
async def upload(conn: asyncssh.SSHClientConnection, local: Path, remote: str):
    async with conn.start_sftp_client() as sftp:
        await sftp.put(local, remote)


async def download(
    conn: asyncssh.SSHClientConnection,
    remote: str,
    local: Path,
):
    async with conn.start_sftp_client() as sftp:
        await sftp.get(remote, local)


async def remote_sha256(
    conn: asyncssh.SSHClientConnection,
    remote: str,
) -> str:
    """Run sha256sum on the server; return the checksum it prints."""
    # shlex.quote: a file name is data, never part of the command. Without
    # it, a name such as "x; rm -rf ~" would run a second command.
    result = await conn.run(
        f"sha256sum {shlex.quote(remote)}",
        check=True,  # ProcessError if its exit status is not 0
        timeout=TIMEOUT,
    )
    return result.stdout.split()[0]


# --8<-- [end:work]
# --8<-- [start:failures]
def explain(error: Exception, where: str) -> str:
    """One line that names what went wrong, for a person to act on."""
    # Most specific first: PermissionDenied is a DisconnectError; a
    # TimeoutError and a ConnectionRefusedError are OSErrors; the
    # TimeoutError of run(timeout=...) is a ProcessError too.
    if isinstance(error, asyncssh.HostKeyNotVerifiable):
        return f"{where}: host key not as in known_hosts: is it up to date?"
    if isinstance(error, asyncssh.PermissionDenied):
        return f"{where}: login refused: wrong user, key or password"
    if isinstance(error, asyncssh.DisconnectError):
        return f"{where}: the server hung up: {error.reason}"
    if isinstance(error, asyncio.TimeoutError):  # connecting, or a command
        return f"{where}: no answer in time: busy, or packets dropped?"
    if isinstance(error, asyncssh.ProcessError):  # run(check=True)
        reason = error.stderr.strip() or "no message"
        return f"{where}: exit status {error.exit_status}: {reason}"
    if isinstance(error, asyncssh.SFTPError):
        return f"{where}: SFTP: {error.reason}"
    if isinstance(error, ConnectionRefusedError):
        return f"{where}: connection refused: is the server running?"
    if isinstance(error, asyncssh.Error):  # a session refused, say
        return f"{where}: {error.reason}"
    return f"{where}: {error.strerror or error}"  # no route, unknown name...


# --8<-- [end:failures]
async def round_trip(
    args: argparse.Namespace,
    login: dict,
    local: Path,
    copy: Path,
) -> str:
    """Upload `local`, checksum it on the server, download it to `copy`."""
    known_hosts = asyncssh.read_known_hosts(str(args.known_hosts))
    where = args.host, args.port, args.user
    async with connect(
        *where,
        known_hosts,
        **login,
        timeout=args.timeout,
    ) as conn:
        await upload(conn, local, args.remote)
        remote_digest = await remote_sha256(conn, args.remote)
        await download(conn, args.remote, copy)
    return remote_digest


def credentials(key_file: Path) -> dict:
    """The key (if its file exists) and the password (if $SSH_PASSWORD is set).

    A password is never an option: other users could read it in `ps`.
    """
    found = {"password": os.environ.get("SSH_PASSWORD") or None}
    if key_file.exists():
        try:
            found["key"] = asyncssh.read_private_key(key_file)
        except (ValueError, OSError) as error:  # not a key, unreadable...
            sys.exit(f"{key_file}: not a usable private key: {error}")
    elif not found["password"]:
        sys.exit(f"No key {key_file} and no SSH_PASSWORD: run ssh_keys.py")
    return found


def main() -> None:
    env = os.environ.get
    doc = (__doc__ or "A file over SFTP, its checksum over SSH.").splitlines()
    parser = argparse.ArgumentParser(description=doc[0])
    parser.add_argument("--host", default=HOST, help="a name, IPv4 or IPv6")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--user", default=env("SSH_USER", USER))
    key = env("SSH_KEY", KEYS / "client_key")
    parser.add_argument("--key", type=Path, default=key)
    known_hosts = KEYS / "known_hosts"
    parser.add_argument("--known-hosts", type=Path, default=known_hosts)
    parser.add_argument("--remote", default="report.csv", help="on the server")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help="s")
    args = parser.parse_args()

    if not args.known_hosts.exists():
        sys.exit(f"No {args.known_hosts}: run ssh_keys.py, or name yours")
    login = credentials(args.key)
    with tempfile.TemporaryDirectory() as folder:
        local, copy = Path(folder, "report.csv"), Path(folder, "copy.csv")
        local.write_bytes(b"day,orders\r\nMonday,12\r\nTuesday,17\r\n")
        try:
            remote_digest = asyncio.run(round_trip(args, login, local, copy))
        # asyncio.TimeoutError: an OSError from Python 3.11 on, not on 3.10.
        except (asyncssh.Error, OSError, asyncio.TimeoutError) as error:
            sys.exit(explain(error, f"{args.host} port {args.port}"))
        report(remote_digest, local, copy)


def report(remote_digest: str, local: Path, copy: Path) -> None:
    print("sha256:", remote_digest)
    #> sha256: e4a6fd4606ba058ce12d0058949ba7c3ff8e78de24f69a3e266ec067998b12aa
    local_digest = hashlib.sha256(local.read_bytes()).hexdigest()
    print("Same as here:", remote_digest == local_digest)
    #> Same as here: True
    same_copy = copy.read_bytes() == local.read_bytes()
    print("Downloaded copy is identical:", same_copy)
    #> Downloaded copy is identical: True


if __name__ == "__main__":
    main()
