"""Echo round trips per second and MB/s on loopback, for the sockets chapter's servers.

Starts snippets/sockets/threaded_echo_server.py (or the selectors one) on a free
loopback port, then runs 1, 10 and 100 clients, each on its own connection
and thread, for a bounded time and count. Prints a Markdown table of medians.

    python3 benchmarks/threaded_echo_benchmark.py
    python3 benchmarks/threaded_echo_benchmark.py --server selectors

Figures vary with the machine and its load: they are measured by hand, never
asserted by a test.
"""

import argparse
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

SNIPPETS = Path(__file__).resolve().parent.parent / "snippets" / "sockets"
sys.path.insert(0, str(SNIPPETS))

# The client's own framing functions: the benchmark runs the code the page shows.
from framed_echo_client import receive_frame, send_frame  # noqa: E402

SERVERS = {
    "threaded": SNIPPETS / "threaded_echo_server.py",
    "selectors": SNIPPETS / "selectors_echo_server.py",
}
CLIENT_COUNTS = (1, 10, 100)
WORKLOADS = {"round trips": 64, "throughput": 64 * 1024}  # message size, bytes
DURATION = 2.0  # seconds per measurement, at most
MAX_ROUND_TRIPS = 200_000  # per client, at most
REPEATS = 3  # each figure is the median of this many measurements
TIMEOUT = 30.0  # seconds: a stuck server ends the run instead of hanging it


def start_server(path: Path) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen(  # noqa: S603 (our own snippet)
        [sys.executable, str(path), "--port", "0", "--idle-timeout", str(TIMEOUT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    match = re.search(r"Listening on 127\.0\.0\.1:(\d+)", process.stdout.readline())
    if not match:
        process.kill()
        sys.exit("the server did not start")
    # Drain its log in the background, or a full pipe would stall it.
    threading.Thread(target=process.stdout.read, daemon=True).start()
    return process, int(match[1])


def run_clients(port: int, clients: int, size: int) -> tuple[int, float]:
    """(round trips, seconds) for `clients` clients echoing `size`-byte messages."""
    message = os.urandom(size)
    counts = [0] * clients
    errors: list[BaseException] = []
    start = threading.Barrier(clients + 1)
    stop = threading.Event()

    def client(index: int) -> None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
                start.wait()
                while not stop.is_set() and counts[index] < MAX_ROUND_TRIPS:
                    send_frame(sock, message)
                    if receive_frame(sock) != message:
                        raise RuntimeError("wrong echo")
                    counts[index] += 1
        except BaseException as error:  # reported after the run
            errors.append(error)
            start.abort()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    stop_timer = threading.Timer(DURATION, stop.set)
    stop_timer.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    stop_timer.cancel()
    if errors:
        raise errors[0]
    return sum(counts), elapsed


def median_rate(port: int, clients: int, size: int, repeats: int) -> float:
    """Round trips per second, the median of `repeats` runs."""
    rates = []
    for _ in range(repeats):
        round_trips, elapsed = run_clients(port, clients, size)
        rates.append(round_trips / elapsed)
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=SERVERS, default="threaded")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    args = parser.parse_args()

    process, port = start_server(SERVERS[args.server])
    try:
        print(f"{args.server} server, Python {platform.python_version()},")
        print(f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs")
        # The machine's load matters as much as its speed: say what it was.
        print(f"load average at the start: {os.getloadavg()[0]:.1f}\n")
        print("| clients | round trips/s (64 B) | MB/s (64 KiB) |")
        print("| ---: | ---: | ---: |")
        for clients in CLIENT_COUNTS:
            small = median_rate(port, clients, WORKLOADS["round trips"], args.repeats)
            size = WORKLOADS["throughput"]
            large = median_rate(port, clients, size, args.repeats) * size / 1e6
            print(f"| {clients} | {small:,.0f} | {large:,.0f} |", flush=True)
        print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    finally:
        process.terminate()  # the figures are in; no need for a clean stop
        process.wait(timeout=TIMEOUT)


if __name__ == "__main__":
    main()
