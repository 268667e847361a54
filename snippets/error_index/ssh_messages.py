"""What asyncssh raises when a login fails, each case on loopback.

    python3 -m pip install "asyncssh==2.24.1"
    python3 ssh_messages.py

An asyncssh server runs on a free port of 127.0.0.1, with a host key made
for this run; the client checks that key against a known_hosts list.
"""

import asyncio
import hmac

import asyncssh
from message_text import last_line

USER, PASSWORD = "ada", "correct horse battery staple"
TIMEOUT = 5.0  # seconds for each connection and login


class OnePassword(asyncssh.SSHServer):
    """A server that lets one user in, with one password."""

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == USER and hmac.compare_digest(password, PASSWORD)


def known_hosts(port: int, key: asyncssh.SSHKey) -> asyncssh.SSHKnownHosts:
    """A known_hosts list that names `key` for 127.0.0.1 on `port`."""
    public_key = key.export_public_key().decode()
    return asyncssh.import_known_hosts(f"[127.0.0.1]:{port} {public_key}")


# --8<-- [start:log_in]
async def log_in(port: int, known: asyncssh.SSHKnownHosts, password: str):
    async with asyncssh.connect(
        "127.0.0.1", port, username=USER, password=password,
        known_hosts=known, client_keys=None, agent_path=None,
        connect_timeout=TIMEOUT,
    ):  # fmt: skip
        pass  # pragma: no cover (each login on this page fails)


async def ssh_refusals() -> list[str]:
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    other_key = asyncssh.generate_private_key("ssh-ed25519")
    server = await asyncssh.create_server(
        OnePassword, "127.0.0.1", 0, server_host_keys=[host_key]
    )
    async with server:
        port = server.sockets[0].getsockname()[1]
        messages = []
        for known, password in [
            (known_hosts(port, other_key), PASSWORD),  # another host's key
            (known_hosts(port, host_key), "a wrong password"),
        ]:
            try:
                await log_in(port, known, password)
            except asyncssh.Error as error:
                messages.append(last_line(error))
        return messages


# --8<-- [end:log_in]
def main() -> None:
    for message in asyncio.run(ssh_refusals()):
        print(message)


if __name__ == "__main__":
    main()
