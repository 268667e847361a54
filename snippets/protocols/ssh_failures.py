"""What goes wrong with SSH, and the exception each failure raises.

Start ssh_server.py first, then:

    python ssh_failures.py    # --host, --port, --user (or $SSH_USER), --keys

It needs the keys of ssh_keys.py: the right key, to show what else fails.
"""

import argparse
import asyncio
import os
import socket
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncssh

HOST = "127.0.0.1"
PORT = 8022
USER = "ada"
KEYS = Path("ssh-keys")
TIMEOUT = 10.0


async def log_in(
    host: str,
    port: int,
    user: str,
    known_hosts: str | asyncssh.SSHKnownHosts,
    client_keys: list[asyncssh.SSHKey] | None = None,
    password: str | None = None,
    timeout: float = TIMEOUT,
) -> None:
    """Connect and log in with exactly these credentials, then leave."""
    async with asyncssh.connect(
        host, port, username=user, known_hosts=known_hosts,
        client_keys=client_keys, password=password,
        agent_path=None, connect_timeout=timeout,
    ):  # fmt: skip
        pass


@contextmanager
def port_without_server(host: str) -> Iterator[int]:
    """A port where no server listens, as after a server has stopped."""
    family = socket.getaddrinfo(host, None)[0][0]
    # Bound, so no other program takes it, but not listening: a connection
    # to it is refused, exactly as it is when the server has gone.
    with socket.socket(family) as placeholder:
        placeholder.bind((host, 0))
        yield placeholder.getsockname()[1]


@contextmanager
def server_that_never_answers(host: str) -> Iterator[int]:
    """A port where connections are accepted, and then nothing is said."""
    family = socket.getaddrinfo(host, None)[0][0]
    # Listening, so the system completes each connection, but never
    # accept()ed: as a server that hangs, or a network that drops packets.
    with socket.socket(family) as listener:
        listener.bind((host, 0))
        listener.listen()
        yield listener.getsockname()[1]


def describe(error: Exception) -> str:
    """The part of an error that tells a person what happened."""
    if isinstance(error, asyncssh.Error):
        return error.reason
    if isinstance(error, OSError) and error.errno:
        # asyncio's message names the address; the system's says what happened.
        return os.strerror(error.errno)
    return "no answer in time"  # a TimeoutError, which has no message


async def failure(attempt: Awaitable[object]) -> str:
    """Await `attempt`, and say which exception it raised, and why."""
    try:
        await attempt
    except (asyncssh.Error, OSError, asyncio.TimeoutError) as error:
        return f"{type(error).__name__}: {describe(error)}"
    return "no error"  # pragma: no cover (each attempt on this page fails)


# --8<-- [start:failures]
async def show_failures(host: str, port: int, user: str, keys: Path) -> None:
    known_hosts = str(keys / "known_hosts")  # lists the server's real key
    our_key = asyncssh.read_private_key(keys / "client_key")
    stranger = asyncssh.generate_private_key("ssh-ed25519")  # unknown to all

    # A key the server does not know, then a password it does not take.
    stranger_in = log_in(host, port, user, known_hosts, [stranger])
    print(await failure(stranger_in))
    #> PermissionDenied: Permission denied for user ada on host 127.0.0.1
    wrong = "guess"  # a password the server does not take
    print(await failure(log_in(host, port, user, known_hosts, password=wrong)))
    #> PermissionDenied: Permission denied for user ada on host 127.0.0.1

    # A server whose key is not the one known_hosts lists for it: another
    # machine answering at that address, or the same one reinstalled.
    other_key = stranger.export_public_key().decode()
    impostor = asyncssh.import_known_hosts(f"[{host}]:{port} {other_key}")
    print(await failure(log_in(host, port, user, impostor, [our_key])))
    #> HostKeyNotVerifiable: Host key is not trusted for host 127.0.0.1

    # No server any more.
    with port_without_server(host) as closed_port:
        gone = log_in(host, closed_port, user, known_hosts, [our_key])
        print(await failure(gone))
        #> ConnectionRefusedError: Connection refused

    # A server that accepts the connection and then says nothing: not
    # refused, and not fast either. (0.5 s here; give a real one longer.)
    with server_that_never_answers(host) as mute_port:
        mute = log_in(
            host,
            mute_port,
            user,
            known_hosts,
            [our_key],
            timeout=0.5,
        )
        print(await failure(mute))
        #> TimeoutError: no answer in time


# --8<-- [end:failures]
def main() -> None:
    doc = (__doc__ or "What goes wrong with SSH.").splitlines()
    parser = argparse.ArgumentParser(description=doc[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--user", default=os.environ.get("SSH_USER", USER))
    parser.add_argument("--keys", type=Path, default=KEYS, help="its keys")
    args = parser.parse_args()
    asyncio.run(show_failures(args.host, args.port, args.user, args.keys))


if __name__ == "__main__":
    main()
