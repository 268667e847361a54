"""DROP, version 1: the file-drop protocol's frames, messages and errors.

The server and both clients import this file: keep it beside them. It only
turns messages into bytes and bytes into messages, and never touches a
socket ("sans I/O"), so the same code serves plain sockets, asyncio,
WebSockets and the unit tests. Run it to see the bytes of a request:

    python drop_protocol.py
"""

import enum
import hashlib
import re
import struct
from typing import NamedTuple

# --8<-- [start:header]
MAGIC = b"DP"  # every frame starts with these two bytes
VERSION = 1
# magic (2 bytes), version (1), type (1), payload length (4, big-endian)
HEADER = struct.Struct("!2sBcI")
HEADER_SIZE = HEADER.size  # 8 bytes

# Each message type is one ASCII letter, readable in a hex dump.
PUT, GET, LIST = b"P", b"G", b"L"  # requests, from a client
STORED, FILE, NAMES, ERROR = b"S", b"F", b"N", b"E"  # replies
REQUESTS = (PUT, GET, LIST)
REPLIES = (STORED, FILE, NAMES, ERROR)
# --8<-- [end:header]


# --8<-- [start:errors]
class Code(enum.IntEnum):
    """What an ERROR reply's first two bytes say went wrong."""

    BAD_FRAME = 1  # not a DROP frame, or a payload of the wrong shape
    BAD_VERSION = 2  # a version this peer does not speak
    UNKNOWN_TYPE = 3  # a message type this peer does not know
    TOO_LARGE = 4  # a payload over the server's limit
    BAD_NAME = 5  # a file name outside the allowed characters
    NOT_FOUND = 6  # no file of that name
    TOO_SLOW = 7  # the request took longer than the server allows
    BUSY = 8  # too many connections at once: try again later
    FULL = 9  # the server stores no more files or bytes


class ProtocolError(Exception):
    """A frame or message that breaks the rules: what an ERROR reply says."""

    def __init__(self, code: int, text: str) -> None:
        # A code from a later version of the protocol is still an error:
        # show its number and its text.
        name = Code(code).name if code in set(Code) else f"ERROR {code}"
        super().__init__(f"{name}: {text}")
        self.code = code
        self.text = text


# --8<-- [end:errors]
# --8<-- [start:frames]
class Header(NamedTuple):
    kind: bytes  # one of REQUESTS or REPLIES
    length: int  # how many payload bytes follow the header


def encode(kind: bytes, payload: bytes = b"") -> bytes:
    """One whole frame: the header, then the payload."""
    return HEADER.pack(MAGIC, VERSION, kind, len(payload)) + payload


def parse_header(data: bytes, max_length: int) -> Header:
    """Check the first 8 bytes of a frame before reading its payload.

    The length is checked first of all: a peer that announces 4 GiB must not
    make us wait for, or make room for, 4 GiB.
    """
    magic, version, kind, length = HEADER.unpack(data)
    if magic != MAGIC:
        raise ProtocolError(Code.BAD_FRAME, "not a DROP frame")
    if version != VERSION:
        raise ProtocolError(
            Code.BAD_VERSION, f"version {version}; this peer speaks {VERSION}"
        )
    if length > max_length:
        raise ProtocolError(
            Code.TOO_LARGE, f"{length} bytes; the limit is {max_length}"
        )
    return Header(kind, length)


# --8<-- [end:frames]
# --8<-- [start:names]
# A name is a file name and nothing else: no folder, no "..", no dotfile,
# no control character or space that a terminal or a shell would act on.
NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")


def check_name(raw: bytes) -> str:
    """The name in `raw`, if the protocol allows it; BAD_NAME otherwise."""
    name = raw.decode("utf-8", errors="replace")
    if not NAME.fullmatch(name):
        raise ProtocolError(Code.BAD_NAME, f"not an allowed name: {name!r}")
    return name


# --8<-- [end:names]
# --8<-- [start:messages]
def put_request(name: str, content: bytes) -> bytes:
    """PUT: the name's length (1 byte), the name, then the file's bytes."""
    raw_name = check_name(name.encode()).encode()
    return encode(PUT, bytes([len(raw_name)]) + raw_name + content)


def get_request(name: str) -> bytes:
    """GET: the payload is the name."""
    return encode(GET, check_name(name.encode()).encode())


def list_request() -> bytes:
    """LIST: no payload."""
    return encode(LIST)


def stored_reply(digest: bytes) -> bytes:
    """STORED: the SHA-256 of what was written, for the client to check."""
    return encode(STORED, digest)


def names_reply(names: list[str]) -> bytes:
    """NAMES: the names, one per line (a name holds no newline)."""
    return encode(NAMES, "\n".join(names).encode("ascii"))


def error_reply(code: Code, text: str) -> bytes:
    """ERROR: the code (2 bytes, big-endian), then a short UTF-8 text."""
    return encode(ERROR, struct.pack("!H", code) + text.encode()[:200])


def parse_error(payload: bytes) -> ProtocolError:
    """The ProtocolError that an ERROR reply's payload describes."""
    if len(payload) < 2:
        return ProtocolError(Code.BAD_FRAME, "an ERROR reply without a code")
    (code,) = struct.unpack("!H", payload[:2])
    return ProtocolError(code, payload[2:].decode("utf-8", errors="replace"))


def parse_names(payload: bytes) -> list[str]:
    return payload.decode("ascii").split("\n") if payload else []


def sha256(content: bytes) -> bytes:
    return hashlib.sha256(content).digest()


# --8<-- [end:messages]
def main() -> None:
    request = put_request("hello.txt", b"Hello, DROP!")
    header, payload = request[:HEADER_SIZE], request[HEADER_SIZE:]
    print(header.hex(" "))
    #> 44 50 01 50 00 00 00 16
    print(parse_header(header, max_length=1024))
    #> Header(kind=b'P', length=22)
    print(payload)
    #> b'\thello.txtHello, DROP!'


if __name__ == "__main__":
    main()
