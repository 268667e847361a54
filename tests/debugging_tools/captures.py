"""tcpdump and ss, run by the tests of "Seeing the traffic", and their output
turned into what the page shows.

Capturing packets needs root (CAP_NET_RAW): the tests run as root, here and
in CI. Without root, or without tcpdump, a test fails and says what to do.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from peers.programs import require

STOP_TIMEOUT = 5.0  # seconds for tcpdump to exit once it has its packets
PAGE_SERVER_PORT = "8765"  # tcp_echo_server.py's, as the page shows it
PAGE_CLIENT_PORTS = ("54321", "54322", "54323")  # for the clients' ports


def capture_program() -> str:
    """tcpdump's path, once this process is known to be allowed to capture."""
    path = require("tcpdump")
    if os.geteuid() != 0:
        pytest.fail(
            "capturing packets needs root: run the tests as root "
            "(`sudo make test`), as CI does",
            pytrace=False,
        )
    return path


def _read_line(stream, timeout: float = STOP_TIMEOUT) -> str:
    """One line from a pipe, a byte at a time: nothing read ahead is lost."""
    line = b""
    while not line.endswith(b"\n"):
        if not select.select([stream], [], [], timeout)[0]:
            pytest.fail(f"no line from tcpdump in {timeout} s, only {line!r}")
        byte = os.read(stream.fileno(), 1)
        if not byte:
            break
        line += byte
    return line.decode("utf-8", errors="replace")


@dataclass
class Capture:
    process: subprocess.Popen
    header: list[str]  # what tcpdump said on stderr before its first packet
    stdout: str = ""
    stderr: str = ""

    def next_line(self) -> str:
        """The next packet tcpdump prints ("" once it has exited)."""
        return _read_line(self.process.stdout)

    def finish(self, timeout: float = STOP_TIMEOUT) -> None:
        """Wait for tcpdump to exit (after -c packets); stop it if it does not."""
        try:
            stdout, stderr = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGINT)  # what Ctrl+C does
            stdout, stderr = self.process.communicate(timeout=STOP_TIMEOUT)
        self.stdout, self.stderr = stdout.decode(), stderr.decode()


@contextmanager
def tcpdump(arguments: Sequence[str]) -> Iterator[Capture]:
    """tcpdump with these arguments, once it says that it is capturing."""
    # Printing to a terminal, tcpdump shows each packet as it arrives; to a
    # pipe, as here, it waits to fill a buffer unless told otherwise.
    command = [capture_program(), "--immediate-mode", *arguments]
    process = subprocess.Popen(  # noqa: S603 (a peer from the tests' own list)
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    header = []
    try:
        # "listening on lo, ..." once the capture runs: no packet is missed.
        while "listening on" not in (line := _read_line(process.stderr)):
            if not line:
                process.wait(timeout=STOP_TIMEOUT)
                pytest.fail(f"tcpdump did not start: {' '.join(header)}")
            header.append(line.rstrip("\n"))
        header.append(line.rstrip("\n"))
        capture = Capture(process, header)
        yield capture
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        process.communicate(timeout=STOP_TIMEOUT)


# --- tcpdump's lines -----------------------------------------------------------

TCP_LINE = re.compile(
    r"^(?P<time>\S+) IP (?P<source>[\d.]+)\.(?P<sport>\d+) > "
    r"(?P<destination>[\d.]+)\.(?P<dport>\d+): Flags \[(?P<flags>[^\]]+)\], "
    r"(?P<rest>.*)$"
)


@dataclass(frozen=True)
class Packet:
    line: str
    from_client: bool
    flags: str  # tcpdump's: S, S., ., P., F., R
    seq: str  # "" when tcpdump shows none
    ack: str
    length: int


def parse_packets(text: str, server_port: int | str = PAGE_SERVER_PORT) -> list[Packet]:
    """tcpdump's lines, as it printed them or as the page shows them."""
    packets = []
    for line in text.splitlines():
        match = TCP_LINE.match(line)
        assert match, f"not a TCP line of tcpdump's: {line!r}"
        fields = dict(
            part.split(" ", 1)
            for part in re.sub(r"options \[[^\]]*\]", "", match["rest"]).split(", ")
            if " " in part
        )
        packets.append(
            Packet(
                line,
                from_client=match["dport"] == str(server_port),
                flags=match["flags"],
                seq=fields.get("seq", ""),
                ack=fields.get("ack", ""),
                length=int(fields["length"]),
            )
        )
    return packets


def page_form(packets: list[Packet], server_port: int) -> list[str]:
    """tcpdump's lines with what changes between runs replaced by fixed values.

    Times become HH:MM:SS.ssssss, the client's port 54321, the server's port
    the one the page uses, the initial sequence numbers X (the client's) and
    Y (the server's), and the TCP timestamps A (the client's clock) and B.
    """
    client = next(p for p in packets if p.from_client)
    client_port = TCP_LINE.match(client.line)["sport"]
    isn = {packets[0].seq: "X", packets[1].seq.split(":")[0]: "Y"}
    ports = {str(server_port): PAGE_SERVER_PORT, client_port: PAGE_CLIENT_PORTS[0]}
    lines = []
    for packet in packets:
        line = re.sub(r"^\d\d:\d\d:\d\d\.\d{6}", "HH:MM:SS.ssssss", packet.line)
        line = re.sub(
            r"(?<=127\.0\.0\.1\.)(\d+)", lambda m: ports.get(m[1], m[1]), line
        )
        line = re.sub(r"seq (\d+)", lambda m: "seq " + isn.get(m[1], m[1]), line)
        if packet.flags == "S.":  # the only absolute ack: the client's ISN + 1
            line = re.sub(r"ack \d+", "ack X+1", line)
        own, other = ("A", "B") if packet.from_client else ("B", "A")
        line = re.sub(r"TS val \d+", f"TS val {own}", line)
        line = re.sub(r"ecr [1-9]\d*", f"ecr {other}", line)
        lines.append(line)
    return lines


def same_capture(text: str) -> str:
    """What must agree between two captures: all but pure ACKs and windows.

    TCP sends an ACK alone when no data is ready to carry it: on a busy
    machine the server may acknowledge the client's FIN before its echo is
    ready, and with ten packets the capture then ends before the last ACK.
    Windows depend on the system's buffer sizes (net.ipv4.tcp_rmem), which
    differ between kernels and machines.
    """
    lines = text.splitlines()
    packets = [i for i, line in enumerate(lines) if TCP_LINE.match(line)]
    handshake_ack = packets[2] if len(packets) > 2 else None
    kept = [
        line
        for i, line in enumerate(lines)
        if i == handshake_ack or "Flags [.]," not in line
    ]
    text = "\n".join(kept)
    text = re.sub(r"\bwin \d+", "win N", text)
    return re.sub(r"\bwscale \d+", "wscale N", text)


FLAG_NAMES = {"S": "SYN", ".": "ACK", "P": "PSH", "F": "FIN", "R": "RST"}


def label(packet: Packet) -> str:
    """A packet of the page as the figure shows it: "[S.] SYN ACK seq Y ack X+1"."""
    names = " ".join(FLAG_NAMES[flag] for flag in packet.flags)
    line = TCP_LINE.match(packet.line)["rest"]
    parts = [f"[{packet.flags}] {names}"]
    if packet.length:
        parts.append(f"{packet.length} bytes")
    elif "S" in packet.flags:
        parts.extend(re.findall(r"(seq \w+|ack X\+1)", line))
    return " ".join(parts)


# --- ss ----------------------------------------------------------------------


def ss(*arguments: str) -> str:
    """ss's output, as the page shows the command: `ss -tln 'sport = :8765'`."""
    result = subprocess.run(  # noqa: S603 (iproute2's ss)
        ["ss", *arguments], capture_output=True, text=True,  # noqa: S607
        timeout=10, check=True,
    )  # fmt: skip
    return result.stdout


def with_page_ports(text: str, ports: dict[str, str]) -> str:
    """`ports` replaced in ss's columns, which stay aligned as ss aligned them.

    A port is the end of "address:port"; the spaces after it absorb a
    replacement of another length.
    """

    def replace(match: re.Match) -> str:
        new = ports.get(match["port"], match["port"])
        padding = max(len(match["spaces"]) + len(match["port"]) - len(new), 1)
        return f":{new}{' ' * padding if match['spaces'] else ''}"

    text = re.sub(r":(?P<port>\d+)(?P<spaces> *)", replace, text)
    return "".join(line.rstrip() + "\n" for line in text.splitlines())


def same_columns(text: str) -> str:
    """ss's lines, compared without their alignment or their order.

    ss aligns its columns to fit what it shows, and lists sockets in the
    order of the kernel's tables, which can differ from one run to the next.
    """
    blocks, current = [], []
    for line in text.splitlines():
        if line.startswith("$ ") and current:
            blocks.append(current)
            current = []
        current.append(" ".join(line.split()))
    blocks.append(current)
    return "\n".join("\n".join(block[:2] + sorted(block[2:])) for block in blocks)
