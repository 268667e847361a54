"""Upload many files at once with asyncio, retrying while the server is
busy or restarting.

    python drop_async_client.py a.txt b.txt c.txt

Start drop_server.py first. With --ca-file it speaks TLS and trusts only
that CA. It needs drop_protocol.py and drop_client.py beside it.
"""

import argparse
import asyncio
import contextlib
import ssl
import sys
from pathlib import Path

from drop_client import (
    HOST,
    MAX_REPLY,
    PORT,
    TIMEOUT,
    Refused,
    drop_name,
    explain,
    host_port,
    trust,
)
from drop_protocol import (
    ERROR,
    HEADER_SIZE,
    STORED,
    Code,
    ProtocolError,
    parse_error,
    parse_header,
    put_request,
    sha256,
)

CONCURRENCY = 8  # uploads in flight at once
TIMEOUTS = (TimeoutError, asyncio.TimeoutError)  # one class from 3.11 on
RETRY_FOR = 10.0  # seconds to keep retrying one upload
FIRST_PAUSE, LONGEST_PAUSE = 0.05, 1.0  # seconds between tries


# --8<-- [start:put]
async def put_once(
    name: str,
    content: bytes,
    host: str,
    port: int,
    context: ssl.SSLContext | None = None,
    timeout: float = TIMEOUT,
) -> None:
    """One try: connect, send PUT, read the reply, check the digest."""

    async def within(step):  # every step has `timeout` seconds, no more
        return await asyncio.wait_for(step, timeout)

    connecting = asyncio.open_connection(host, port, ssl=context)
    reader, writer = await within(connecting)
    try:
        writer.write(put_request(name, content))
        await within(writer.drain())
        start = await within(reader.readexactly(HEADER_SIZE))
        header = parse_header(start, MAX_REPLY)
        payload = await within(reader.readexactly(header.length))
    finally:
        writer.close()
        with contextlib.suppress(OSError):  # reset: nothing left to close
            await writer.wait_closed()
    if header.kind == ERROR:
        raise Refused(parse_error(payload))
    if header.kind != STORED or payload != sha256(content):
        raise ProtocolError(0, "its SHA-256 is not that of what we sent")


# --8<-- [end:put]
# --8<-- [start:retry]
# Refused (nobody listens yet), reset, or closed without a reply.
TRANSIENT = (ConnectionRefusedError, ConnectionResetError, EOFError)


def worth_retrying(error: Exception) -> bool:
    """Failures after which the same request may well succeed.

    Sending a PUT twice is harmless: the same name and bytes make the same
    file. So a request that got no reply can be sent again, even if the
    server did store it before its connection was cut.
    """
    if isinstance(error, Refused):
        return error.code == Code.BUSY
    return isinstance(error, TRANSIENT)


async def put_retrying(name, content, host, port, retry_for=RETRY_FOR, **kw):
    loop = asyncio.get_running_loop()
    give_up = loop.time() + retry_for
    pause = FIRST_PAUSE
    while True:
        try:
            return await put_once(name, content, host, port, **kw)
        except (OSError, EOFError, Refused) as error:
            if not worth_retrying(error) or loop.time() + pause > give_up:
                raise
        await asyncio.sleep(pause)  # back off: let a busy server breathe
        pause = min(pause * 2, LONGEST_PAUSE)


# --8<-- [end:retry]
# --8<-- [start:many]
async def put_many(
    files: list[tuple[str, bytes]],
    host: str = HOST,
    port: int = PORT,
    concurrency: int = CONCURRENCY,
    **options,
) -> list[str]:
    """Upload every (name, content), `concurrency` at a time: one line each.

    `options`: retry_for, and put_once()'s context and timeout.
    """
    slots = asyncio.Semaphore(concurrency)
    where = host_port(host, port)

    async def upload(name: str, content: bytes) -> str:
        async with slots:
            try:
                await put_retrying(name, content, host, port, **options)
            except TIMEOUTS:
                return f"Failed {name}: {where} did not answer in time"
            except (OSError, EOFError, ProtocolError, Refused) as error:
                return f"Failed {name}: {explain(error, where)}"
            return f"Stored {name}: {len(content)} bytes"

    return await asyncio.gather(*(upload(*file) for file in files))


# --8<-- [end:many]
# --8<-- [start:main]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--ca-file", help="speak TLS, trusting this CA (PEM)")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--retry-for", type=float, default=RETRY_FOR)
    args = parser.parse_args()

    options = {"retry_for": args.retry_for}
    if args.ca_file:
        options["context"] = trust(args.ca_file)
    try:
        files = [(drop_name(p.name), p.read_bytes()) for p in args.paths]
    except (OSError, argparse.ArgumentTypeError) as error:
        sys.exit(f"Cannot upload: {error}")
    where = (args.host, args.port, args.concurrency)
    lines = asyncio.run(put_many(files, *where, **options))
    for line in lines:
        print(line)
        #> Stored a.txt: 6 bytes
        #> Stored b.txt: 6 bytes
        #> Stored c.txt: 6 bytes
    if any(line.startswith("Failed") for line in lines):
        sys.exit(1)


# --8<-- [end:main]
if __name__ == "__main__":
    main()
