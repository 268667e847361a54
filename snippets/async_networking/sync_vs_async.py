"""Threads or asyncio? The same requests, as many at once, measured.

A server answers each request after a fixed delay, as a slow database or
API would. For each number of connections C, the script makes the same
requests with C threads (requests) and with C coroutines (aiohttp): each
connection makes its requests one after the other. It measures the client:
requests per second, latency, CPU time per request, memory per connection.

    python sync_vs_async.py
    python sync_vs_async.py --connections 1 20 100 1000 --repeat 3 \\
        --json sync-vs-async.json --svg sync-vs-async.svg

Each measurement runs in a new Python process, so that the threads and the
memory of one weigh nothing on the next.
"""

import argparse
import asyncio
import functools
import json
import multiprocessing
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from html import escape
from importlib.metadata import version

import aiohttp
import requests

try:
    import resource  # Unix: the peak memory of this process
except ImportError:  # pragma: no cover (Windows: memory is not measured)
    resource = None

HOST = "127.0.0.1"
PORT = 0  # the script's server takes any free port
DELAY = 0.1  # seconds the server waits before each answer
CONNECTIONS = [1, 20, 100, 1000]  # requests in flight at once
REQUESTS_EACH = 10  # requests each connection makes, one after the other
REPEAT = 3  # runs of each measurement: the tables show the fastest
TIMEOUT = 60.0  # seconds: generous, but never unbounded
BACKLOG = 4096  # connections waiting for accept(): a burst must fit
# ru_maxrss is in KiB on Linux, in bytes on macOS.
RSS_UNIT = 1 if sys.platform == "darwin" else 1024


# --8<-- [start:server]
ANSWER = (
    b"HTTP/1.1 200 OK\r\n"  # keep-alive: HTTP/1.1's default
    b"Content-Type: text/plain\r\nContent-Length: 5\r\n\r\ndone\n"
)


async def answer_slowly(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    delay: float,
) -> None:
    """Answer each request of one connection after `delay` seconds."""
    try:
        while True:  # keep-alive: one request after the other
            # A GET has no body: its request ends with a blank line.
            await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(delay)
            writer.write(ANSWER)
            await writer.drain()
    except (
        asyncio.IncompleteReadError,  # the client closed its connection
        asyncio.LimitOverrunError,  # 64 KiB and no blank line: not HTTP
        ConnectionError,  # the client is gone
    ):
        pass
    finally:
        writer.close()


# --8<-- [end:server]
# --8<-- [start:stopwatch]
class Stopwatch:
    """The time each request took its connection, one after the other.

    A lap runs from the end of the previous request (the first from the
    start of the measurement): the time a thread waits for its turn to
    run Python, before or after a request, counts.
    """

    def __init__(self, start: float) -> None:
        self.laps: list[float] = []
        self.last = start

    def lap(self) -> None:
        now = time.perf_counter()
        self.laps.append(now - self.last)
        self.last = now


class Clock:
    """When the measured part began: wall-clock and CPU time."""

    def start(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()  # this process's, every thread's


# --8<-- [end:stopwatch]
# --8<-- [start:threads]
def with_threads(
    url: str,
    connections: int,
    each: int,
    clock: Clock,
) -> list[float]:
    """`connections` threads, each making `each` requests one at a time.

    Each thread has its own Session, so its own connection: requests does
    not promise that a Session is safe to share between threads.
    """
    # The clock starts once every thread is ready: all at once, for real.
    ready = threading.Barrier(connections, action=clock.start)

    def connection(_: int) -> list[float]:
        with requests.Session() as session:
            ready.wait(TIMEOUT)
            stopwatch = Stopwatch(clock.wall)
            for _ in range(each):
                session.get(url, timeout=TIMEOUT).raise_for_status()
                stopwatch.lap()
            return stopwatch.laps

    with ThreadPoolExecutor(max_workers=connections) as pool:
        return [
            seconds
            for laps in pool.map(connection, range(connections))
            for seconds in laps
        ]


# --8<-- [end:threads]
# --8<-- [start:asyncio]
def with_asyncio(
    url: str,
    connections: int,
    each: int,
    clock: Clock,
) -> list[float]:
    """`connections` coroutines, each making `each` requests one at a time.

    They share one session, whose connector opens as many connections.
    """

    async def connection(session: aiohttp.ClientSession) -> list[float]:
        stopwatch = Stopwatch(clock.wall)
        for _ in range(each):
            async with session.get(url) as response:
                await response.read()
            stopwatch.lap()
        return stopwatch.laps

    async def run() -> list[list[float]]:
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections),
            timeout=aiohttp.ClientTimeout(total=TIMEOUT),
            raise_for_status=True,
        ) as session:
            clock.start()  # every coroutine starts at the next await
            return await asyncio.gather(
                *(connection(session) for _ in range(connections))
            )

    return [seconds for laps in asyncio.run(run()) for seconds in laps]


# --8<-- [end:asyncio]
CLIENTS: dict[str, Callable[[str, int, int, Clock], list[float]]] = {
    "threads": with_threads,
    "asyncio": with_asyncio,
}


@dataclass
class Result:
    """One client at one number of connections: what it cost."""

    method: str
    connections: int
    requests: int
    seconds: float
    cpu_seconds: float
    median_latency: float  # seconds
    slowest_latency: float  # seconds: the 99th percentile
    memory: int | None  # bytes more at the peak than before the run
    server_cpu_seconds: float = 0.0  # the server's, during the run

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_per_request(self) -> float:
        return self.cpu_seconds / self.requests

    @property
    def cores_used(self) -> float:
        return self.cpu_seconds / self.seconds

    @property
    def server_cpu_per_request(self) -> float:
        return self.server_cpu_seconds / self.requests

    @property
    def memory_per_connection(self) -> float | None:
        if self.memory is None:  # pragma: no cover (Windows)
            return None
        return self.memory / self.connections


# --8<-- [start:measure]
def peak_memory() -> int | None:
    """The most memory this process has held so far, in bytes."""
    if resource is None:  # pragma: no cover (Windows)
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * RSS_UNIT


def measure(method: str, url: str, connections: int, each: int) -> Result:
    """Run one client and measure it (in a process of its own)."""
    client = CLIENTS[method]
    client(url, 1, 1, Clock())  # warm up: lazy imports, first connection
    before = peak_memory()
    clock = Clock()
    latencies = client(url, connections, each, clock)
    seconds = time.perf_counter() - clock.wall
    cpu_seconds = time.process_time() - clock.cpu
    after = peak_memory()
    percentiles = statistics.quantiles(latencies, n=100, method="inclusive")
    return Result(
        method,
        connections,
        len(latencies),
        seconds,
        cpu_seconds,
        statistics.median(latencies),
        percentiles[98],
        None if before is None else after - before,
    )


async def in_new_process(function: Callable, *args):
    """function(*args) in a new Python process, while this one serves."""
    # "spawn": a fresh interpreter, the same way on Linux, macOS, Windows.
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as process:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(process, function, *args)


# --8<-- [end:measure]
# --8<-- [start:benchmark]
async def benchmark(args: argparse.Namespace) -> list[Result]:
    """Serve here; measure each client at each number of connections."""
    handler = functools.partial(answer_slowly, delay=args.delay)
    server = await asyncio.start_server(
        handler,
        args.host,
        args.port,
        backlog=BACKLOG,
    )
    async with server:
        port = server.sockets[0].getsockname()[1]
        host = f"[{args.host}]" if ":" in args.host else args.host
        url = f"http://{host}:{port}/"
        results = []
        for connections in args.connections:
            for method in CLIENTS:
                runs = []
                for _ in range(args.repeat):
                    serving = time.process_time()  # this process: the server
                    run = await in_new_process(
                        measure, method, url, connections, args.requests_each
                    )
                    run.server_cpu_seconds = time.process_time() - serving
                    runs.append(run)
                # The fastest run is the one other work disturbed least.
                best = min(runs, key=lambda run: run.seconds)
                print(f"{method}, {connections} at once: {rate(best)}/s")
                results.append(best)
    return results


# --8<-- [end:benchmark]
def machine() -> dict:
    """What the figures were measured on, and what else was running."""
    facts = {
        "system": f"{platform.system()} {platform.release()}",
        "cores": os.cpu_count(),
        "processor": processor(),
        "python": platform.python_version(),
        "requests": version("requests"),
        "aiohttp": version("aiohttp"),
    }
    if hasattr(os, "getloadavg"):  # Unix: how busy the machine is
        facts["load"] = round(os.getloadavg()[0], 1)
    return facts


def processor() -> str:
    """The processor's name (platform.processor() says little on Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:  # pragma: no cover (not Linux)
        pass
    return platform.processor()  # pragma: no cover (no name in /proc)


def described(machine: dict) -> str:
    """The machine, the software, and how busy the machine was."""
    lines = [
        f"{machine['system']}, {machine['cores']} cores",
        f"{machine['processor']}",
        f"Python {machine['python']}, requests {machine['requests']},"
        f" aiohttp {machine['aiohttp']}",
    ]
    if "load" in machine:  # the average number of processes running
        before, after = machine["load"], machine["load_after"]
        lines.append(f"Load average: {before} before, {after} after")
    return "\n".join(lines)


def server_cost(results: list[Result]) -> str:
    """What the server cost, at the most connections: it must stay small."""
    most = max(result.connections for result in results)
    busiest = max(
        result.server_cpu_per_request
        for result in results
        if result.connections == most
    )
    return (
        f"The server used {busiest * 1000:.2f} ms of CPU a request"
        f" at {most:,} connections."
    )


# --8<-- [start:tables]
def rate(result: Result) -> str:
    per_second = result.per_second
    return f"{per_second:,.0f}" if per_second >= 100 else f"{per_second:.1f}"


def latency(result: Result) -> str:
    median, slowest = result.median_latency, result.slowest_latency
    return f"{median * 1000:,.0f} / {slowest * 1000:,.0f}"


def cpu(result: Result) -> str:
    return f"{result.cpu_per_request * 1000:.2f}"


def cores(result: Result) -> str:
    return f"{result.cores_used:.2f}"


def memory(result: Result) -> str:
    per_connection = result.memory_per_connection
    if per_connection is None:  # pragma: no cover (Windows)
        return "n/a"
    return f"{per_connection / 1024:,.0f}"


TABLES = {  # a title, and how each cell shows a result
    "Requests per second (more is better)": rate,
    "Latency in ms, median / 99th percentile (less is better)": latency,
    "CPU time per request, in ms (less is better)": cpu,
    "CPU the client got, in cores": cores,
    "Memory per connection, in KiB (less is better)": memory,
}


def tables(results: list[Result]) -> dict[str, str]:
    """A Markdown table for each measure: a row per number of connections,
    a column per client. Three short columns fit on a phone."""
    by_connections: dict[int, dict[str, Result]] = {}
    for result in results:
        by_connections.setdefault(result.connections, {})
        by_connections[result.connections][result.method] = result
    made = {}
    for title, cell in TABLES.items():
        lines = [
            "| connections | " + " | ".join(CLIENTS) + " |",
            "| ---: |" + " ---: |" * len(CLIENTS),
        ]
        for connections, row in by_connections.items():
            cells = " | ".join(cell(row[method]) for method in CLIENTS)
            lines.append(f"| {connections:,} | {cells} |")
        made[title] = "\n".join(lines)
    return made


# --8<-- [end:tables]
# --8<-- [start:chart]
WIDTH, LABEL, BAR = 400, 84, 230  # px: the card, the labels, the most
COLOURS = {"threads": "#6d6d6d", "asyncio": "#3949ab"}  # 4.5:1 on white


def bar_chart(results: list[Result], delay: float) -> str:
    """Requests per second for each number of connections, as SVG."""
    most = max(result.per_second for result in results)
    title = "Requests per second (more is better)"
    subtitle = f"Each request waits {delay} s at the server"
    body, y = [text(16, 26, title, bold=True), text(16, 46, subtitle)], 56
    for connections in sorted({result.connections for result in results}):
        label = f"{connections:,} connection" + "s" * (connections > 1)
        body.append(text(16, y + 18, label, bold=True))
        y += 26
        for result in results:
            if result.connections == connections:
                width = max(1.0, BAR * result.per_second / most)
                body += [
                    text(16, y + 17, result.method),
                    bar(y + 4, width, COLOURS[result.method]),
                    text(LABEL + width + 6, y + 17, f"{rate(result)}/s"),
                ]
                y += 24
        y += 8
    summary = "; ".join(
        f"{result.method}, {result.connections:,} at once: {rate(result)}"
        for result in results
    )
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}"'
            f' height="{y}" viewBox="0 0 {WIDTH} {y}" role="img"'
            ' font-family="sans-serif" font-size="14">',
            f"<title>{title}</title>",
            f"<desc>{subtitle}. {summary}.</desc>",
            f'<rect width="{WIDTH}" height="{y}" rx="6" fill="#ffffff"/>',
            *body,
            "</svg>\n",
        ]
    )


def text(x: float, y: float, words: str, bold: bool = False) -> str:
    style = 'fill="#222222"' + (' font-weight="bold"' if bold else "")
    return f'<text x="{x:.1f}" y="{y}" {style}>{escape(words)}</text>'


def bar(y: float, width: float, colour: str) -> str:
    size = f'width="{width:.1f}" height="18"'
    return f'<rect class="bar" x="{LABEL}" y="{y}" {size} fill="{colour}"/>'


# --8<-- [end:chart]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0: any free")
    parser.add_argument("--delay", type=float, default=DELAY, help="seconds")
    parser.add_argument(
        "--connections",
        type=int,
        nargs="+",
        default=CONNECTIONS,
    )
    parser.add_argument("--requests-each", type=int, default=REQUESTS_EACH)
    parser.add_argument("--repeat", type=int, default=REPEAT)
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--svg", help="draw the chart in this file")
    args = parser.parse_args()

    measured_on = machine()
    results = asyncio.run(benchmark(args))
    if "load" in measured_on:
        measured_on["load_after"] = round(os.getloadavg()[0], 1)
    print(f"\n{described(measured_on)}")
    print(f"Each request waits {args.delay} s at the server.")
    print(server_cost(results))
    for title, table in tables(results).items():
        print(f"\n{title}\n\n{table}")
    if args.json:
        figures = {
            "machine": measured_on,
            "delay": args.delay,
            "requests_each": args.requests_each,
            "repeat": args.repeat,
            "results": [asdict(result) for result in results],
        }
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(figures, file, indent=1)
            file.write("\n")
    if args.svg:
        with open(args.svg, "w", encoding="utf-8") as file:
            file.write(bar_chart(results, args.delay))


if __name__ == "__main__":
    main()
