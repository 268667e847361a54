"""Two mistakes that asyncio's debug mode reports: run with python3 -X dev.

Start tcp_echo_server.py first, then:

    python3 -X dev asyncio_mistakes.py

A coroutine called without `await` never runs, and a blocking call inside a
coroutine stops every other task until it returns. Neither raises an
exception; debug mode names both.
"""

import argparse
import asyncio
import sys
import time

HOST = "127.0.0.1"
PORT = 8765  # tcp_echo_server.py's
TIMEOUT = 5.0  # seconds for the connection, and for the reply
BLOCKING_TIME = 0.2  # seconds: debug mode reports steps over 0.1 s


# --8<-- [start:mistakes]
async def echo(message: bytes, host: str, port: int) -> bytes:
    """Send one message to the echo server and return its reply."""
    connecting = asyncio.open_connection(host, port)
    reader, writer = await asyncio.wait_for(connecting, TIMEOUT)
    try:
        writer.write(message)
        writer.drain()  # mistake 1: no await, so this never waits
        writer.write_eof()
        reply = await asyncio.wait_for(reader.read(), TIMEOUT)
    finally:
        writer.close()
        await writer.wait_closed()
    # Mistake 2: a blocking call, as requests.get() or a slow disk would be.
    # Every other task of the loop waits until it returns.
    time.sleep(BLOCKING_TIME)  # noqa: ASYNC251 (the mistake shown here)
    return reply


# --8<-- [end:mistakes]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args()

    where = f"{args.host}:{args.port}"
    try:
        reply = asyncio.run(echo(b"Hello", args.host, args.port))
    except ConnectionRefusedError:
        sys.exit(f"No server at {where}: start tcp_echo_server.py")
    # Python 3.10's asyncio.TimeoutError is not an OSError.
    except (OSError, asyncio.TimeoutError) as error:
        sys.exit(f"No echo from {where}: {error!r}")
    print(reply.decode())


if __name__ == "__main__":
    main()
