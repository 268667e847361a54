"""Make the SSH keys for this page's server and client, and introduce them.

    python ssh_keys.py

It writes into ssh-keys/: the server's host key, your client key, the
server's list of keys allowed to log in (authorized_keys), and your list of
servers you trust (known_hosts), with the server's public key for
127.0.0.1 port 8022 (--host, --port).
"""

import argparse
import os
from pathlib import Path

import asyncssh

FOLDER = Path("ssh-keys")
HOST = "127.0.0.1"
PORT = 8022
KEY_TYPE = "ssh-ed25519"  # short keys, fast to make and to check


def write_private(path: Path, data: bytes) -> None:
    """Write a private key that only its owner may read (mode 0600)."""
    # Created with that mode, not chmod-ed after: no moment when another user
    # could read it. OpenSSH refuses a key file that others can read.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "wb") as file:
        file.write(data)


# --8<-- [start:keys]
def make_keys(folder: Path) -> None:
    """A host key for the server, a key for the client, and authorized_keys."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("host_key", "client_key"):
        key = asyncssh.generate_private_key(KEY_TYPE)
        write_private(folder / name, key.export_private_key())
        (folder / f"{name}.pub").write_bytes(key.export_public_key())
    # The server lets in whoever proves they hold a key listed here.
    client_public_key = (folder / "client_key.pub").read_bytes()
    (folder / "authorized_keys").write_bytes(client_public_key)


def write_known_hosts(folder: Path, host: str, port: int) -> None:
    """Write known_hosts: the server at `host`, `port` has host_key.pub."""
    # The format of OpenSSH's ~/.ssh/known_hosts: "[host]:port key", or just
    # "host key" on the standard port, 22. Rewritten, not appended to: a key
    # made by an earlier run must not stay trusted.
    pattern = host if port == 22 else f"[{host}]:{port}"
    public_key = (folder / "host_key.pub").read_text().strip()
    (folder / "known_hosts").write_text(f"{pattern} {public_key}\n")


# --8<-- [end:keys]
def main() -> None:
    doc = (__doc__ or "Make the SSH keys of this page.").splitlines()
    parser = argparse.ArgumentParser(description=doc[0])
    parser.add_argument("--folder", type=Path, default=FOLDER)
    parser.add_argument("--host", default=HOST, help="the server's address")
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args()

    make_keys(args.folder)
    write_known_hosts(args.folder, args.host, args.port)
    print("Server: host_key; it lets in the keys in authorized_keys")
    #> Server: host_key; it lets in the keys in authorized_keys
    print("Client: client_key; it trusts the servers in known_hosts")
    #> Client: client_key; it trusts the servers in known_hosts


if __name__ == "__main__":
    main()
