"""Watch a WebSocket conversation on the wire: the handshake, then every frame.

It starts an echo server and a relay on loopback, sends a few messages through
the relay, and prints the bytes the relay saw, decoded:

    python wire_capture.py
"""

import argparse
import asyncio
import base64
import hashlib
import struct
from collections.abc import Iterator
from typing import NamedTuple

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

HOST = "127.0.0.1"
TIMEOUT = 5.0  # seconds for any step of the conversation
# RFC 6455 section 1.3: the server proves it speaks WebSocket by hashing the
# client's random key together with this fixed string.
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# Headers whose values change on every run or machine, and what they hold.
PLACEHOLDERS = {
    "host": "127.0.0.1:<port>",
    "sec-websocket-key": "<16 random bytes, base64-encoded>",
    "sec-websocket-accept": "<base64 SHA-1 of the key and the GUID>",
    "date": "<the server's clock>",
    "user-agent": "Python/<version> websockets/<version>",
    "server": "Python/<version> websockets/<version>",
}
# The opcode in the low 4 bits of each frame's first byte.
OPCODES = {
    0x0: "CONT",  # data frames: a continuation, text, binary
    0x1: "TEXT",
    0x2: "BINARY",
    0x8: "CLOSE",  # control frames
    0x9: "PING",
    0xA: "PONG",
}


async def echo(websocket: ServerConnection) -> None:
    # One well-behaved client: no error handling here (see echo_server.py).
    async for message in websocket:
        await websocket.send(message)


async def relay(
    source: asyncio.StreamReader, sink: asyncio.StreamWriter, record: bytearray
) -> None:
    """Copy bytes from source to sink until the source ends, keeping a copy."""
    while data := await source.read(64 * 1024):
        record.extend(data)
        sink.write(data)
        await sink.drain()
    sink.close()  # the source closed its side: close ours towards the sink


# --8<-- [start:conversation]
async def talk(uri: str) -> None:
    """The conversation to watch: every kind of frame, once."""
    # Compression off, so that the payloads on the wire are readable.
    connection = connect(uri, compression=None, open_timeout=TIMEOUT)
    async with connection as websocket:
        for message in ["Hello, WebSocket!", b"\x00\x01\xff", ["Hel", "lo!"]]:
            await websocket.send(message)  # a list is sent as fragments
            await asyncio.wait_for(websocket.recv(), TIMEOUT)
        pong = await websocket.ping(b"still there?")
        await asyncio.wait_for(pong, TIMEOUT)
    # Leaving the block closes the connection: a CLOSE frame each way.


# --8<-- [end:conversation]
async def capture(port: int) -> tuple[bytes, bytes]:
    """Relay one conversation to the server on `port`; return both ways."""
    to_server, to_client = bytearray(), bytearray()
    finished = asyncio.get_running_loop().create_future()

    async def tap(
        client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        server_in, server_out = await asyncio.open_connection(HOST, port)
        await asyncio.gather(
            relay(client_in, server_out, to_server),
            relay(server_in, client_out, to_client),
        )
        finished.set_result(None)

    tap_server = await asyncio.start_server(tap, HOST, 0)
    async with tap_server:
        tap_port = tap_server.sockets[0].getsockname()[1]
        await talk(f"ws://{HOST}:{tap_port}/")
        await asyncio.wait_for(finished, TIMEOUT)
    return bytes(to_server), bytes(to_client)


async def capture_conversation() -> tuple[bytes, bytes]:
    async with serve(echo, HOST, 0) as server:
        return await capture(server.sockets[0].getsockname()[1])


# --8<-- [start:frames]
class Frame(NamedTuple):
    fin: bool  # the last frame of its message
    opcode: int  # what the payload is: TEXT, BINARY, CLOSE, PING...
    masked: bool  # client-to-server frames must be masked
    payload: bytes


def read_frames(data: bytes) -> Iterator[Frame]:
    """Decode a stream of frames (RFC 6455 section 5.2)."""
    offset = 0
    while offset < len(data):
        first, second = data[offset], data[offset + 1]
        offset += 2
        length = second & 0x7F  # 0-125: the length; 126 and 127: read on
        if length == 126:
            (length,) = struct.unpack_from("!H", data, offset)
            offset += 2
        elif length == 127:
            (length,) = struct.unpack_from("!Q", data, offset)
            offset += 8
        masked = bool(second & 0x80)
        mask = data[offset : offset + 4] if masked else bytes(4)
        offset += 4 if masked else 0
        payload = bytes(
            byte ^ mask[index % 4]
            for index, byte in enumerate(data[offset : offset + length])
        )
        offset += length
        yield Frame(bool(first & 0x80), first & 0x0F, masked, payload)


# --8<-- [end:frames]
def describe(frames: Iterator[Frame]) -> Iterator[str]:
    """One line per frame: its kind, flags, length and payload."""
    text = False  # does the message being received hold text?
    for frame in frames:
        kind = OPCODES[frame.opcode]
        if kind in ("TEXT", "BINARY"):  # CONT frames continue the same message
            text = kind == "TEXT"
        if kind == "CLOSE":  # a 2-byte code, then an optional UTF-8 reason
            (code,) = struct.unpack("!H", frame.payload[:2])
            content = f"code {code} {frame.payload[2:].decode()!r}"
        elif text and kind in ("TEXT", "CONT"):
            content = repr(frame.payload.decode())
        else:
            content = repr(frame.payload)
        fin = "fin" if frame.fin else "   "
        flags = fin + (" masked" if frame.masked else "")
        yield f"{kind:<6} {flags:<10} {len(frame.payload):>2} bytes  {content}"


def split_head(data: bytes) -> tuple[list[str], bytes]:
    """Split the HTTP handshake (lines up to a blank line) from the frames."""
    head, _, frames = data.partition(b"\r\n\r\n")
    return head.decode("ascii").split("\r\n"), frames


def header(lines: list[str], name: str) -> str:
    """The value of the header `name` (lowercase) in the handshake's lines."""
    for line in lines[1:]:
        field, _, value = line.partition(": ")
        if field.lower() == name:
            return value
    raise LookupError(f"no {name} header")


# --8<-- [start:accept]
def expected_accept(key: str) -> str:
    """The Sec-WebSocket-Accept value that answers a Sec-WebSocket-Key."""
    # The RFC chose SHA-1 here; nothing secret depends on it.
    data = (key + WEBSOCKET_GUID).encode("ascii")
    digest = hashlib.sha1(data, usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")


# --8<-- [end:accept]
def without_varying_values(lines: list[str]) -> list[str]:
    shown = [lines[0]]  # the request line or the status line
    for line in lines[1:]:
        name, _, value = line.partition(": ")
        shown.append(f"{name}: {PLACEHOLDERS.get(name.lower(), value)}")
    return shown


# --8<-- [start:main]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()

    to_server, to_client = asyncio.run(capture_conversation())
    request, client_frames = split_head(to_server)
    response, server_frames = split_head(to_client)

    for line in without_varying_values(request):
        print(line)
        #> GET / HTTP/1.1
        #> Host: 127.0.0.1:<port>
        #> Upgrade: websocket
        #> Connection: Upgrade
        #> Sec-WebSocket-Key: <16 random bytes, base64-encoded>
        #> Sec-WebSocket-Version: 13
        #> User-Agent: Python/<version> websockets/<version>
    for line in without_varying_values(response):
        print(line)
        #> HTTP/1.1 101 Switching Protocols
        #> Date: <the server's clock>
        #> Upgrade: websocket
        #> Connection: Upgrade
        #> Sec-WebSocket-Accept: <base64 SHA-1 of the key and the GUID>
        #> Server: Python/<version> websockets/<version>
    key = header(request, "sec-websocket-key")
    accept = header(response, "sec-websocket-accept")
    print("Accept answers the key:", accept == expected_accept(key))
    #> Accept answers the key: True

    for line in describe(read_frames(client_frames)):
        print("client > server", line)
        #> client > server TEXT   fin masked 17 bytes  'Hello, WebSocket!'
        #> client > server BINARY fin masked  3 bytes  b'\x00\x01\xff'
        #> client > server TEXT       masked  3 bytes  'Hel'
        #> client > server CONT       masked  3 bytes  'lo!'
        #> client > server CONT   fin masked  0 bytes  ''
        #> client > server PING   fin masked 12 bytes  b'still there?'
        #> client > server CLOSE  fin masked  2 bytes  code 1000 ''
    for line in describe(read_frames(server_frames)):
        print("server > client", line)
        #> server > client TEXT   fin        17 bytes  'Hello, WebSocket!'
        #> server > client BINARY fin         3 bytes  b'\x00\x01\xff'
        #> server > client TEXT   fin         6 bytes  'Hello!'
        #> server > client PONG   fin        12 bytes  b'still there?'
        #> server > client CLOSE  fin         2 bytes  code 1000 ''


# --8<-- [end:main]
if __name__ == "__main__":
    main()
