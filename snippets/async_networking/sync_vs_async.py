"""Sync versus async, measured: N requests to a slow server, made three ways.

The server answers each request after a fixed delay, as a slow database or
API would. The script makes the same N requests one by one with requests,
with requests in a pool of threads, and all at once with aiohttp; then it
prints a table and writes the chart as SVG.

    python sync_vs_async.py --requests 200 --delay 0.05 --svg sync-vs-async.svg
"""

import argparse
import asyncio
import platform
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version

import aiohttp
import requests

HOST = "127.0.0.1"
PORT = 0  # the server of this script takes any free port
REQUESTS = 200
REPEAT = 3  # runs of each method: the table shows the best
DELAY = 0.05  # seconds the server waits before each answer
THREADS = 20  # threads in the pool
CONNECTIONS = 100  # aiohttp's connections at once (its default limit)
TIMEOUT = 30.0  # seconds per request: generous, but never unbounded


# --8<-- [start:server]
class SlowHandler(BaseHTTPRequestHandler):
    """Answers every GET after `server.delay` seconds."""

    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse their connections
    # The headers and the body go out as two small writes: with Nagle's
    # algorithm on, the second waits for the client's delayed ACK, 40 ms.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        time.sleep(self.server.delay)
        body = b"done\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        pass  # one line per request would drown the table


@contextmanager
def slow_server(host: str, port: int, delay: float) -> Iterator[str]:
    """Run the slow server in a thread (one thread per connection); yield its URL."""
    server = ThreadingHTTPServer((host, port), SlowHandler, bind_and_activate=False)
    server.request_queue_size = 1024  # a burst of connections must not overflow
    server.delay = delay
    server.daemon_threads = True
    try:
        server.server_bind()
        server.server_activate()
        # poll_interval: how soon serve_forever() notices shutdown().
        thread = threading.Thread(target=server.serve_forever, args=(0.05,))
        thread.start()
        try:
            yield f"http://{host}:{server.server_port}/"
        finally:
            server.shutdown()
            thread.join()
    finally:
        server.server_close()


# --8<-- [end:server]
# --8<-- [start:clients]
def one_by_one(urls: list[str]) -> int:
    """requests, one request after the other, on one keep-alive session."""
    with requests.Session() as session:
        for url in urls:
            session.get(url, timeout=TIMEOUT).raise_for_status()
    return len(urls)


def thread_pool(urls: list[str], threads: int = THREADS) -> int:
    """requests in a pool of threads: each thread runs one_by_one() on its share.

    Each thread has its own Session, as requests does not promise that one
    Session is safe to share between threads.
    """
    shares = [urls[index::threads] for index in range(threads)]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return sum(pool.map(one_by_one, shares))


def all_at_once(urls: list[str], connections: int = CONNECTIONS) -> int:
    """aiohttp, every request at once, on at most `connections` connections."""

    async def fetch_all() -> int:
        connector = aiohttp.TCPConnector(limit=connections)
        # A request's total timeout includes its wait for a free connection:
        # allow for the queue of requests ahead of it.
        timeout = aiohttp.ClientTimeout(total=TIMEOUT * len(urls) / connections)
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, raise_for_status=True
        ) as session:

            async def fetch(url: str) -> None:
                async with session.get(url) as response:
                    await response.read()

            await asyncio.gather(*(fetch(url) for url in urls))
        return len(urls)

    return asyncio.run(fetch_all())


# --8<-- [end:clients]
@dataclass
class Result:
    method: str
    requests: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def measure(
    method: str, client: Callable[[list[str]], int], urls: list[str], repeat: int
) -> Result:
    """Run `client` `repeat` times; keep the best time, the least disturbed run."""
    best = None
    for _ in range(repeat):
        start = time.perf_counter()
        answered = client(urls)
        seconds = time.perf_counter() - start
        if best is None or seconds < best.seconds:
            best = Result(method, answered, seconds)
    return best


# --8<-- [start:table]
def table(results: list[Result]) -> str:
    """The results as a Markdown table, which reads well in a terminal too."""
    lines = [
        "| method | requests | seconds | requests/s |",
        "| --- | ---: | ---: | ---: |",
    ]
    for result in results:
        lines.append(
            f"| {result.method} | {result.requests} | {result.seconds:.2f}"
            f" | {result.per_second:.0f} |"
        )
    return "\n".join(lines)


# --8<-- [end:table]
# --8<-- [start:chart]
def bar_chart(results: list[Result], title: str) -> str:
    """A horizontal bar chart of the seconds each method took, as SVG."""
    label_width, bar_width, row_height, top = 230, 330, 36, 48
    height = top + row_height * len(results) + 12
    longest = max(result.seconds for result in results)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="640" height="{height}"'
        f' viewBox="0 0 640 {height}" role="img" font-family="sans-serif"'
        ' font-size="14">',
        f"<title>{escape(title)}</title>",
        f'<rect width="640" height="{height}" rx="6" fill="#ffffff"/>',
        f'<text x="16" y="28" font-weight="bold" fill="#222222">{escape(title)}</text>',
    ]
    for row, result in enumerate(results):
        y = top + row * row_height
        width = max(1.0, bar_width * result.seconds / longest)
        parts += [
            f'<text x="16" y="{y + 19}" fill="#222222">{escape(result.method)}</text>',
            f'<rect class="bar" x="{label_width}" y="{y + 4}" width="{width:.1f}"'
            ' height="22" fill="#3f51b5"/>',
            f'<text x="{label_width + width + 6:.1f}" y="{y + 19}"'
            f' fill="#222222">{result.seconds:.2f} s</text>',
        ]
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


# --8<-- [end:chart]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0 picks a free port")
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--delay", type=float, default=DELAY, help="seconds")
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--repeat", type=int, default=REPEAT)
    parser.add_argument("--svg", help="write the chart to this file")
    args = parser.parse_args()

    print(
        f"{args.requests} requests, each answered after {args.delay} s;"
        f" best of {args.repeat} runs; Python {platform.python_version()},"
        f" requests {version('requests')}, aiohttp {version('aiohttp')}"
    )
    clients = {
        "requests, one by one": one_by_one,
        f"requests, {args.threads} threads": partial(thread_pool, threads=args.threads),
        f"aiohttp, {args.connections} connections": partial(
            all_at_once, connections=args.connections
        ),
    }
    with slow_server(args.host, args.port, args.delay) as url:
        urls = [f"{url}?n={n}" for n in range(args.requests)]
        results = [
            measure(method, client, urls, args.repeat)
            for method, client in clients.items()
        ]
    print(table(results))
    if args.svg:
        title = f"{args.requests} requests of {args.delay} s: seconds in all"
        title += " (lower is better)"
        with open(args.svg, "w", encoding="utf-8") as svg:
            svg.write(bar_chart(results, title))


if __name__ == "__main__":
    main()
