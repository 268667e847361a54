"""Tests of the page "When things go wrong" (docs/sockets/errors.md).

Besides the program's messages: the TIME-WAIT figure, drawn from the states
that `ss` reports for a real connection, and what TCP keepalive does.
"""

import errno
import math
import re
import shutil
import socket
import struct
import subprocess
import time
from html import escape
from pathlib import Path

import pytest
from sequence_figures import INK, MONO, MUTED, PAPER, RULE, SANS, check_figure

ERRORS = "sockets/socket_errors.py"
KEEPALIVE = "sockets/tcp_keepalive.py"
DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_each_error_is_reproduced_with_its_real_message(run_example):
    # The #> comments under each print() are the messages the page shows.
    run_example(ERRORS)


@pytest.fixture
def errors(import_snippet):
    return import_snippet(ERRORS)


def test_describe_leaves_the_address_out_of_the_message(errors):
    with socket.create_server(("127.0.0.1", 0)) as first:
        address = first.getsockname()
        with pytest.raises(OSError, match="Address already in use") as error_info:
            socket.create_server(address)
    # Python's own message names the address and port, which change each run.
    assert str(address[1]) in str(error_info.value)
    description = errors.describe(error_info.value)
    assert description == "OSError: [EADDRINUSE] Address already in use"
    assert error_info.value.errno == errno.EADDRINUSE


# --- TIME-WAIT, as `ss` reports it ------------------------------------------


def ss_lines(port: int) -> list[str]:
    """`ss` lines of the TCP sockets with `port` at either end, LISTEN aside."""
    if not shutil.which("ss"):
        pytest.fail("`ss` is missing: apt-get install iproute2", pytrace=False)
    filter_ = f"( sport = :{port} or dport = :{port} )"
    listing = subprocess.run(  # noqa: S603 (a fixed command, our port)
        ["ss", "-tanoH", filter_],  # noqa: S607 (ss from PATH)
        capture_output=True, text=True, check=True, timeout=10,
    ).stdout  # fmt: skip
    return [line for line in listing.splitlines() if not line.startswith("LISTEN")]


def end_of(local_port: int, peer_port: int) -> list[str]:
    """The `ss` fields of one end of one connection (or none): a port may
    have older connections in TIME-WAIT, from tests that used it before."""
    for line in ss_lines(local_port):
        fields = line.split()
        ports = fields[3].rsplit(":", 1)[1], fields[4].rsplit(":", 1)[1]
        if ports == (str(local_port), str(peer_port)):
            return fields
    return []


def state_of(local_port: int, peer_port: int) -> str:
    """The state of the end whose own port is `local_port`."""
    fields = end_of(local_port, peer_port)
    return fields[0] if fields else "gone"


TIMER = re.compile(r"timer:\(timewait,(?:(?P<min>\d+)min)?(?:(?P<sec>\d+)sec)?")


def time_wait_seconds(local_port: int, peer_port: int) -> int:
    """Seconds left of that end's TIME-WAIT, as `ss -o` shows them."""
    line = " ".join(end_of(local_port, peer_port))
    if line.startswith("TIME-WAIT") and (match := TIMER.search(line)):
        return int(match["min"] or 0) * 60 + int(match["sec"] or 0)
    raise AssertionError(f"no TIME-WAIT timer on port {local_port}: {line!r}")


def bind_outcome(port: int, reuse_address: bool) -> str:
    with socket.socket() as sock:
        if reuse_address:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as error:
            return errno.errorcode[error.errno]
        sock.listen()
        return "listening"


# States in which an end waits for a packet that its peer's kernel has sent.
IN_FLIGHT = {"SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "CLOSING", "LAST-ACK"}
SETTLE_TIME = 2.0  # seconds


def close_in_turn(server_first: bool) -> dict:
    """A connection closed by one side, then the other; what `ss` saw."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port), timeout=5)
        server_side, (_, client_port) = listener.accept()
        ends = {"server": (server_side, port), "client": (client, client_port)}
        order = ["server", "client"] if server_first else ["client", "server"]

        def states() -> tuple[str, str]:
            """Both ends' states, once no packet is left in flight."""
            # The kernel answers a FIN with an ACK at once, but on a busy
            # machine the ACK's arrival is handled a moment later: read
            # again while an end still waits for it (bounded, no sleep).
            deadline = time.monotonic() + SETTLE_TIME
            while True:
                both = state_of(port, client_port), state_of(client_port, port)
                if not IN_FLIGHT & set(both) or time.monotonic() > deadline:
                    return both

        steps = [("connected", *states())]
        for closer in order:
            sock, _ = ends[closer]
            other = ends[order[1]][0] if closer == order[0] else None
            sock.close()  # the kernel sends a FIN
            if other is not None:
                assert other.recv(1) == b""  # the FIN has arrived
            steps.append((closer, *states()))
    # The listener has closed too: a restarted server would now bind.
    return {
        "port": port,
        "client_port": client_port,
        "steps": steps,
        "without": bind_outcome(port, reuse_address=False),
        "with": bind_outcome(port, reuse_address=True),
    }


def test_the_side_that_closes_first_waits_and_keeps_the_port(request):
    record = close_in_turn(server_first=True)
    assert record["steps"] == [
        ("connected", "ESTAB", "ESTAB"),
        ("server", "FIN-WAIT-2", "CLOSE-WAIT"),
        ("client", "TIME-WAIT", "gone"),
    ]
    # Linux keeps TIME-WAIT for 60 s (TCP_TIMEWAIT_LEN), whatever the sysctls.
    seconds = time_wait_seconds(record["port"], record["client_port"])
    assert 50 <= seconds <= 60
    assert record["without"] == "EADDRINUSE"
    assert record["with"] == "listening"
    record["time_wait"] = round(seconds, -1)
    check_figure(request, DOCS / "sockets/time-wait.svg", time_wait_svg(record))


def test_when_the_client_closes_first_the_server_can_bind_at_once():
    record = close_in_turn(server_first=False)
    assert record["steps"] == [
        ("connected", "ESTAB", "ESTAB"),
        ("client", "CLOSE-WAIT", "FIN-WAIT-2"),
        ("server", "gone", "TIME-WAIT"),
    ]
    # The TIME-WAIT is on the client's own port: the server's is free.
    assert record["without"] == "listening"


# The figure: two ends of one connection, their states as `ss` named them.
WIDTH, FONT = 400, 14
SERVER_X, CLIENT_X = 96, 304
PILL_W, PILL_H = 116, 26
CLOSE_COLOURS = {"server": "#3949ab", "client": "#00796b"}
REFUSED, ALLOWED = "#9a3412", "#00796b"


def pill(x: float, y: float, state: str) -> str:
    if state == "gone":
        return (
            f'<text x="{x}" y="{y + 18}" text-anchor="middle" fill="{MUTED}">'
            "(closed)</text>"
        )
    fill = "#fde7dc" if state == "TIME-WAIT" else "#eef2ff"
    return (
        f'<rect x="{x - PILL_W / 2}" y="{y}" width="{PILL_W}" height="{PILL_H}" '
        f'rx="13" fill="{fill}" stroke="{RULE}"/>'
        f'<text x="{x}" y="{y + 18}" text-anchor="middle" font-family="{MONO}">'
        f"{escape(state)}</text>"
    )


def time_wait_svg(record: dict) -> str:
    """The figure of the errors page, from what close_in_turn() recorded."""
    name = "time-wait"
    parts = [
        f'<text x="{SERVER_X}" y="30" text-anchor="middle" font-weight="600">'
        "Server</text>",
        f'<text x="{CLIENT_X}" y="30" text-anchor="middle" font-weight="600">'
        "Client</text>",
    ]
    y = 48
    for index, (closer, server_state, client_state) in enumerate(record["steps"]):
        if index:  # an arrow: this side's close() sends its FIN
            start, end = (
                (SERVER_X, CLIENT_X) if closer == "server" else (CLIENT_X, SERVER_X)
            )
            colour = CLOSE_COLOURS[closer]
            tip = end - 4 if end > start else end + 4
            parts.append(
                f'<text x="{(start + end) / 2}" y="{y + 14}" text-anchor="middle" '
                f'font-family="{MONO}" fill="{colour}">close(): FIN</text>'
            )
            parts.append(
                f'<line x1="{start}" y1="{y + 24}" x2="{tip}" y2="{y + 24}" '
                f'stroke="{colour}" stroke-width="2" '
                f'marker-end="url(#{name}-{closer})"/>'
            )
            y += 36
        parts.append(pill(SERVER_X, y, server_state))
        parts.append(pill(CLIENT_X, y, client_state))
        y += PILL_H + 14
    lifeline_end = y + 36
    parts.append(
        f'<line x1="{SERVER_X}" y1="{y}" x2="{SERVER_X}" y2="{lifeline_end}" '
        f'stroke="{REFUSED}" stroke-width="4"/>'
    )
    parts.append(
        f'<text x="{SERVER_X + 14}" y="{y + 16}">'
        f"{record['time_wait']:.0f} s on Linux: the port</text>"
    )
    parts.append(f'<text x="{SERVER_X + 14}" y="{y + 35}">stays in use</text>')
    y = lifeline_end + 30
    parts.append(
        f'<text x="20" y="{y}" font-weight="600">A new server binds it:</text>'
    )
    outcomes = [
        ("without SO_REUSEADDR", record["without"]),
        ("with SO_REUSEADDR", record["with"]),
    ]
    for label, outcome in outcomes:
        y += 24
        colour = ALLOWED if outcome == "listening" else REFUSED
        parts.append(
            f'<text x="20" y="{y}" font-family="{MONO}">{label}: '
            f'<tspan fill="{colour}" font-weight="600">{escape(outcome)}</tspan>'
            "</text>"
        )
    height = math.ceil(y + 22)
    lifelines = [
        f'<line x1="{x}" y1="40" x2="{x}" y2="{lifeline_end}" stroke="{RULE}" '
        f'stroke-width="1.5" stroke-dasharray="4 4"/>'
        for x in (SERVER_X, CLIENT_X)
    ]
    markers = "".join(
        f'<marker id="{name}-{side}" viewBox="0 0 10 10" refX="9" refY="5" '
        f'markerWidth="5" markerHeight="5" orient="auto-start-reverse">'
        f'<path d="M0 0 10 5 0 10z" fill="{colour}"/></marker>'
        for side, colour in CLOSE_COLOURS.items()
    )
    states = "; ".join(
        f"{'then the ' + closer + ' closes' if index else 'connected'}: "
        f"server {server}, client {client}"
        for index, (closer, server, client) in enumerate(record["steps"])
    )
    description = (
        f"The states of both ends of one TCP connection, as ss reports them. "
        f"{states}. The server's end stays in TIME-WAIT for "
        f"{record['time_wait']:.0f} seconds, holding its port: a new server "
        f"that binds it without SO_REUSEADDR gets {record['without']}; with "
        f"SO_REUSEADDR it is {record['with']}."
    )
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
            f'width="{WIDTH}" height="{height}" role="img" '
            f'aria-labelledby="{name}-title {name}-desc">',
            f'  <title id="{name}-title">Who waits in TIME-WAIT after a close</title>',
            f'  <desc id="{name}-desc">{escape(description)}</desc>',
            "  <!-- A white card: readable on the light and the dark palette. -->",
            f'  <rect width="{WIDTH}" height="{height}" rx="10" fill="{PAPER}"/>',
            f"  <defs>{markers}</defs>",
            f'  <g font-family="{SANS}" font-size="{FONT}" fill="{INK}">',
            *(f"    {part}" for part in lifelines + parts),
            "  </g>",
            "</svg>",
            "",
        ]
    )


# --- TCP keepalive -------------------------------------------------------------


def test_keepalive_settings_are_what_the_page_says(run_example):
    run_example(KEEPALIVE)


TCP_REPAIR = 19  # <linux/tcp.h>: Python does not name it
TCP_ESTABLISHED = 1


def forget(sock: socket.socket) -> None:
    """Close `sock` without a packet, as a machine that restarted forgets
    its connections: its peer hears nothing, until it sends."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 1)
    except PermissionError:
        pytest.fail(
            "closing a socket without a packet (TCP_REPAIR) needs CAP_NET_ADMIN: "
            "run the tests as root, as CI does",
            pytrace=False,
        )
    sock.close()


def since_data_and_ack(sock: socket.socket) -> tuple[int, int, int]:
    """(state, ms since data last came in, ms since an ACK last came in)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    # struct tcp_info: 8 bytes, then u32 fields; tcpi_last_data_recv is the
    # 12th and tcpi_last_ack_recv the 13th.
    last_data_recv, last_ack_recv = struct.unpack_from("II", info, 8 + 4 * 11)
    return info[0], last_data_recv, last_ack_recv


def test_keepalive_ends_a_forgotten_connection_not_a_hung_one(import_snippet):
    keepalive = import_snippet(KEEPALIVE)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        address = listener.getsockname()
        forgetful = socket.create_connection(address, timeout=5)
        gone, _ = listener.accept()
        hung_peer = socket.create_connection(address, timeout=5)
        hung, _ = listener.accept()
    with gone, hung, hung_peer:
        for sock in (gone, hung):  # the shortest times there are
            keepalive.enable_keepalive(sock, idle=1, interval=1, count=1)
            sock.settimeout(5)
        armed = time.monotonic()
        forget(forgetful)
        # The first probe, after a second of silence, meets no connection
        # at all, and the peer's kernel answers it with a reset.
        with pytest.raises(ConnectionResetError):
            gone.recv(1)
        assert time.monotonic() - armed >= 0.9
        # The other peer's program never reads nor writes, but its kernel
        # answered the probe: the connection stays up, and recv() goes on
        # waiting, as it would for ever without a timeout of its own.
        hung.settimeout(max(0.0, armed + 1.4 - time.monotonic()))
        with pytest.raises(TimeoutError):
            hung.recv(1)
        state, since_data, since_ack = since_data_and_ack(hung)
        assert state == TCP_ESTABLISHED
        assert since_data >= 1300  # nothing came in since the connection began
        assert since_ack < since_data - 500  # but the probe's answer did
