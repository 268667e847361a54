"""The last line of a traceback, as each *_messages.py program prints it.

The other programs of this folder import it. Alone, it prints a message
with the parts that change from run to run replaced, as the page shows them:

    python3 message_text.py "TimeoutError: Connection to 127.0.0.1:8765 ..."
"""

import argparse
import logging
import re
import socket
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

# What changes from one run to the next, and what takes its place, so that
# a message reads the same each time.
VARIABLE_PARTS = [
    # A port the system picked: after "port=", "127.0.0.1:", "'127.0.0.1', ".
    (re.compile(r"(?<=port=)\d+|(?<=127\.0\.0\.1:)\d+"), "PORT"),
    (re.compile(r"(?<=127\.0\.0\.1', )\d+"), "PORT"),
    (re.compile(r"(?<= at 0x)[0-9a-f]+"), "..."),  # an object's address
    (re.compile(r"(?<=fd=)\d+"), "..."),  # a file descriptor
    (re.compile(r"(?<=_ssl\.c:)\d+"), "..."),  # a line of Python's C source
    (re.compile(r"(?<=name='Task-)\d+"), "..."),  # tasks are numbered
    (re.compile(r"(?<=, )\d+\.\d+(?=\)\])"), "..."),  # the loop's clock
    (re.compile(r"(?<=defined at )\S*/"), ".../"),  # the folder of a file
]


def older_wording(text: str) -> str:
    """Python 3.10 names a socket's family and type; 3.11 prints numbers."""
    return re.sub(
        r"(?:AddressFamily|SocketKind)\.(\w+)",
        lambda match: str(int(getattr(socket, match[1]))),
        text,
    )


# --8<-- [start:last_line]
def normalised(text: str) -> str:
    for pattern, replacement in VARIABLE_PARTS:
        text = pattern.sub(replacement, text)
    return older_wording(text)


def last_line(error: BaseException) -> str:
    """What a traceback ends with: the exception's class, then its message.

    The class is named as Python names it there, with its module
    (ssl.SSLCertVerificationError) unless it is built in (TimeoutError).
    """
    line = traceback.format_exception_only(type(error), error)[-1]
    return normalised(line.strip())


# --8<-- [end:last_line]
@contextmanager
def logged_by_asyncio() -> Iterator[list[str]]:
    """What asyncio's logger writes meanwhile (to standard error, usually)."""
    records = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())
    logger = logging.getLogger("asyncio")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("message", help="the last line of a traceback")
    print(normalised(parser.parse_args().message))


if __name__ == "__main__":
    main()
