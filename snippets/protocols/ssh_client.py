"""Transfer a file over SFTP and run a command over SSH, with asyncssh.

Start ssh_server.py first, then:

    python ssh_client.py

It logs in with the key ssh-keys/client_key, and trusts the server only if
its host key is the one ssh-keys/known_hosts lists for it.
"""

import argparse
import asyncio
import hashlib
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
    host: str = HOST,
    port: int = PORT,
    user: str = USER,
    key: Path = KEYS / "client_key",
    known_hosts: Path = KEYS / "known_hosts",
) -> AbstractAsyncContextManager[asyncssh.SSHClientConnection]:
    """Connect and log in with `key`: use as `async with connect(...) as conn`."""
    return asyncssh.connect(
        host,
        port,
        username=user,
        client_keys=[str(key)],  # this key only: no agent, no keys from ~/.ssh
        # The server's host key must be the one listed here for host and port,
        # or connect() raises HostKeyNotVerifiable. (known_hosts=None would
        # accept any server, an attacker's included: never do that.)
        known_hosts=str(known_hosts),  # a str: asyncssh takes no Path here
        connect_timeout=TIMEOUT,  # covers TCP, key exchange and login
        # A server that stops answering mid-transfer is noticed in 30 s.
        keepalive_interval=10,
        keepalive_count_max=3,
    )


# --8<-- [end:connect]
# --8<-- [start:work]
async def upload(conn: asyncssh.SSHClientConnection, local: Path, remote: str):
    async with conn.start_sftp_client() as sftp:
        await sftp.put(local, remote)


async def download(conn: asyncssh.SSHClientConnection, remote: str, local: Path):
    async with conn.start_sftp_client() as sftp:
        await sftp.get(remote, local)


async def remote_sha256(conn: asyncssh.SSHClientConnection, remote: str) -> str:
    """Run sha256sum on the server; return the checksum it prints."""
    # shlex.quote: a file name is data, never part of the command. Without
    # it, a name such as "x; rm -rf ~" would run a second command.
    result = await conn.run(
        f"sha256sum {shlex.quote(remote)}",
        check=True,  # raise ProcessError if the command fails (exit status != 0)
        timeout=TIMEOUT,
    )
    return result.stdout.split()[0]


# --8<-- [end:work]
async def round_trip(local: Path, copy: Path, host: str, port: int, keys: Path) -> str:
    """Upload `local`, checksum it on the server, download it back to `copy`."""
    async with connect(
        host, port, key=keys / "client_key", known_hosts=keys / "known_hosts"
    ) as conn:
        await upload(conn, local, "report.csv")
        remote_digest = await remote_sha256(conn, "report.csv")
        await download(conn, "report.csv", copy)
    return remote_digest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--keys", type=Path, default=KEYS, help="from ssh_keys.py")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        local, copy = Path(folder, "report.csv"), Path(folder, "copy.csv")
        local.write_bytes(b"day,orders\r\nMonday,12\r\nTuesday,17\r\n")
        try:
            remote_digest = asyncio.run(
                round_trip(local, copy, args.host, args.port, args.keys)
            )
        except ConnectionRefusedError:
            sys.exit(f"No server at {args.host}:{args.port}: start ssh_server.py")
        except asyncssh.HostKeyNotVerifiable as error:
            sys.exit(f"{error.reason}: is known_hosts up to date?")
        print("sha256:", remote_digest)
        #> sha256: e4a6fd4606ba058ce12d0058949ba7c3ff8e78de24f69a3e266ec067998b12aa
        local_digest = hashlib.sha256(local.read_bytes()).hexdigest()
        print("Same as here:", remote_digest == local_digest)
        #> Same as here: True
        print("Downloaded copy is identical:", copy.read_bytes() == local.read_bytes())
        #> Downloaded copy is identical: True


if __name__ == "__main__":
    main()
