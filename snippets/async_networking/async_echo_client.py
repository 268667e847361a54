"""An asyncio echo client: sends lines to the echo server, prints each echo.

Start async_echo_server.py first, then:

    python3 async_echo_client.py
    python3 async_echo_client.py --host ::1    # over IPv6
"""

import argparse
import asyncio
import contextlib
import sys

HOST = "127.0.0.1"
PORT = 8772
TIMEOUT = 5.0  # seconds for the whole exchange: fail fast rather than hang


# --8<-- [start:exchange]
async def echo_lines(
    lines: list[bytes],
    host: str,
    port: int,
) -> list[bytes]:
    """Send each line (without its newline) and return the echoes, in order.

    No timeout here: the caller puts one deadline over the whole exchange.
    """
    reader, writer = await asyncio.open_connection(host, port)
    try:
        echoes = []
        for line in lines:
            writer.write(line + b"\n")
            await writer.drain()  # wait while the kernel's buffer is full
            try:
                echo = await reader.readuntil(b"\n")
            except asyncio.IncompleteReadError:
                closed = ConnectionError("the server closed the connection")
                raise closed from None
            echoes.append(echo.removesuffix(b"\n"))
        return echoes
    finally:
        writer.close()  # also when an error or a timeout ends the exchange
        with contextlib.suppress(ConnectionError):  # reset: nothing to flush
            await writer.wait_closed()


# --8<-- [end:exchange]
# --8<-- [start:deadline]
async def echo_within(lines: list[bytes], host, port, seconds: float):
    """echo_lines() within `seconds`, on Python 3.11 and later."""
    # asyncio.timeout() cancels whatever the block awaits when time is up,
    # and raises TimeoutError. One deadline covers connect, writes and reads.
    async with asyncio.timeout(seconds):
        return await echo_lines(lines, host, port)


async def echo_within_wait_for(lines: list[bytes], host, port, seconds):
    """echo_lines() within `seconds`, on Python 3.10 and later."""
    # wait_for() puts the deadline on one awaitable: here, the whole exchange.
    return await asyncio.wait_for(echo_lines(lines, host, port), seconds)


# --8<-- [end:deadline]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--timeout", type=float, default=TIMEOUT)
    args = parser.parse_args()

    greeting = "Hello, asyncio! 👋".encode()
    lines = [greeting, b"Each line comes back on its own"]
    run = echo_within if sys.version_info >= (3, 11) else echo_within_wait_for
    host, port, seconds = args.host, args.port, args.timeout
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        echoes = asyncio.run(run(lines, host, port, seconds))
    except ConnectionRefusedError:
        sys.exit(f"No server at {where}: start async_echo_server.py")
    except asyncio.TimeoutError:  # TimeoutError on 3.11+, its own before
        sys.exit(f"No echo from {where} within {seconds} s")
    except OSError as error:  # closed or reset by the server, a bad name
        sys.exit(f"Echo from {where} failed: {error.strerror or error}")
    # --8<-- [start:print]
    for echo in echoes:
        print(echo.decode())
        #> Hello, asyncio! 👋
        #> Each line comes back on its own
    # --8<-- [end:print]


if __name__ == "__main__":
    main()
