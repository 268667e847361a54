"""How long `make serve` takes to show a changed snippet in its page.

Starts `mkdocs serve --dirty` (as `make serve` does) on a free loopback port,
waits for the first build, then appends a marker comment to a snippet and
polls the page that includes it until the marker shows, RUNS times; prints
each time and the median. The snippet is restored afterwards.

    .venv/bin/python benchmarks/serve_reload.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNIPPET = ROOT / "snippets/sockets/tcp_echo_client.py"
PAGE = "site/sockets/tcp/"  # under site_url's path
TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def page_text(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
            return response.read().decode()
    except OSError:
        return ""


def wait_for(url: str, marker: str) -> float:
    start = time.monotonic()
    while marker not in page_text(url):
        if time.monotonic() - start > TIMEOUT:
            raise TimeoutError(f"{marker} never showed at {url}")
        time.sleep(0.02)  # polling the server, as a browser's reload would
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}/{PAGE}"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "mkdocs", "serve", "--dirty",
         "--dev-addr", f"127.0.0.1:{port}"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    original = SNIPPET.read_text(encoding="utf-8")
    times = []
    try:
        wait_for(url, "tcp_echo_client")
        for run in range(args.runs):
            marker = f"reload-marker-{run}-{time.time_ns()}"
            SNIPPET.write_text(original + f"# {marker}\n", encoding="utf-8")
            times.append(wait_for(url, marker))
            print(f"run {run + 1}: {times[-1]:.2f} s")
    finally:
        SNIPPET.write_text(original, encoding="utf-8")
        server.terminate()
        server.wait(timeout=10)
    print(f"median of {len(times)}: {statistics.median(times):.2f} s")


if __name__ == "__main__":
    main()
