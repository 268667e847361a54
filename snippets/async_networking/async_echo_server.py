"""An asyncio echo server: sends back each line, to many clients at once.

Run it, then run async_echo_client.py in another terminal:

    python3 async_echo_server.py
    python3 async_echo_server.py --host ::1    # IPv6 loopback

Ctrl+C (or SIGTERM) stops it: it stops accepting, lets open connections
finish for a few seconds, then closes the rest.
"""

import argparse
import asyncio
import contextlib
import errno
import signal

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8772
MAX_LINE_LENGTH = 64 * 1024  # the StreamReader's limit: longer lines refused
DEADLINE = 10.0  # seconds for each whole line to arrive, and for its echo
MAX_CLIENTS = 256  # connections at once; past this, newcomers are refused
BACKLOG = 256  # connections that may wait in the kernel's queue
SHUTDOWN_GRACE = 5.0  # seconds open connections get to finish on Ctrl+C
# accept() errors that say the system is out of something, for a while.
OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


class OutOfTime(Exception):
    """The client took longer than the deadline; the message says for what."""


# --8<-- [start:echo]
async def echo_each_line(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, deadline: float
) -> int:
    """Echo each line until the client closes its side; return how many."""
    count = 0
    while True:
        try:
            # wait_for() bounds the whole readuntil(), however the line
            # trickles in: a deadline per line, not only an idle timeout.
            line = await asyncio.wait_for(reader.readuntil(b"\n"), deadline)
        except asyncio.IncompleteReadError as error:
            if error.partial:  # the client closed in the middle of a line
                raise
            return count  # the client closed between lines: done
        except asyncio.TimeoutError:  # TimeoutError on 3.11+, its own before
            raise OutOfTime(f"no whole line in {deadline} seconds") from None
        writer.write(line)
        try:
            # drain() waits while the client reads slower than we write: one
            # that never reads cannot make us buffer without end.
            await asyncio.wait_for(writer.drain(), deadline)
        except asyncio.TimeoutError:
            raise OutOfTime(f"echo not taken in {deadline} seconds") from None
        count += 1


# --8<-- [end:echo]
# --8<-- [start:handle]
async def handle_client(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, deadline: float
) -> None:
    """Serve one connection, or log why not; one client never stops us."""
    try:
        count = await echo_each_line(reader, writer, deadline)
    except asyncio.LimitOverrunError:
        print(f"Refused: line over {MAX_LINE_LENGTH} bytes")
    except asyncio.IncompleteReadError:
        print("Client closed the connection mid-line")
    except OutOfTime as error:
        print(f"Timed out: {error}")
    except ConnectionError as error:  # reset, broken pipe: it went away
        print(f"Client went away: {error.strerror}")
    except asyncio.CancelledError:
        print("Connection closed by shutdown")
        raise  # never swallow a cancellation: whoever cancelled waits for it
    else:
        print(f"Echoed {count} lines")
    finally:
        await close(writer)


async def close(writer: asyncio.StreamWriter) -> None:
    if writer.transport.get_write_buffer_size():
        # Echoes the client has not taken: close() would wait until it
        # reads them, for ever if it never does. Drop them.
        writer.transport.abort()
    else:
        writer.close()
    with contextlib.suppress(ConnectionError):  # reset: nothing to flush
        await writer.wait_closed()


# --8<-- [end:handle]
# --8<-- [start:serve]
async def serve(
    host: str, port: int, deadline: float, max_clients: int, grace: float
) -> None:
    """Serve until SIGINT or SIGTERM, then shut down cleanly."""
    connections: set[asyncio.Task] = set()

    async def on_connect(reader, writer):
        if len(connections) >= max_clients:
            # Refuse at once: a prompt close tells the client to come back
            # later, where a queue that does not move would tell it nothing.
            print(f"Refused: {max_clients} clients already")
            await close(writer)
            return
        # One task per connection: remember it, so shutdown can wait for it.
        task = asyncio.current_task()
        connections.add(task)
        try:
            await handle_client(reader, writer, deadline)
        except asyncio.CancelledError:
            # shut_down() cancelled us and handle_client() has cleaned up. This
            # is the task's outermost frame, so it may end quietly here; and
            # it must: Python 3.11 and 3.12 log an error for a connection task
            # of start_server() that ends cancelled.
            pass
        finally:
            connections.discard(task)

    stop = asyncio.Event()
    stop_on_signals(stop)
    asyncio.get_running_loop().set_exception_handler(report_accept_errors)
    # limit: the most a single readuntil() buffers before it gives up.
    server = await asyncio.start_server(
        on_connect, host, port, limit=MAX_LINE_LENGTH, backlog=BACKLOG
    )
    bound_host, bound_port = server.sockets[0].getsockname()[:2]
    print(f"Listening on {shown(bound_host)}:{bound_port}", flush=True)
    await stop.wait()
    await shut_down(server, connections, grace)


def stop_on_signals(stop: asyncio.Event) -> None:
    """Set `stop` on Ctrl+C (SIGINT) and on SIGTERM (from service managers)."""
    loop = asyncio.get_running_loop()
    # Unix only: on Windows, Ctrl+C ends asyncio.run() with KeyboardInterrupt.
    with contextlib.suppress(NotImplementedError):
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, stop.set)


async def shut_down(
    server: asyncio.Server, connections: set[asyncio.Task], grace: float
) -> None:
    """Stop accepting, give open connections `grace` seconds, cancel others."""
    server.close()
    if connections:
        still_open = len(connections)
        print(f"Shutting down: {still_open} open, waiting up to {grace} s")
        _finished, unfinished = await asyncio.wait(connections, timeout=grace)
        for task in unfinished:
            task.cancel()
        # Wait until the cancelled tasks have run their cleanup.
        await asyncio.gather(*unfinished, return_exceptions=True)
    await server.wait_closed()


# --8<-- [end:serve]
# --8<-- [start:accept_errors]
def report_accept_errors(loop: asyncio.AbstractEventLoop, context) -> None:
    """One line, not a traceback, when accept() runs out of resources.

    asyncio then stops accepting for a second and tries again: it does not
    spin on a listening socket that stays ready while the system is out of
    file descriptors. If the server closes within that second, the retry
    fails on the closed socket (an asyncio wart, harmless): one line too.
    """
    error = context.get("exception")
    retry = "_start_serving" in context.get("message", "")
    if isinstance(error, OSError) and error.errno in OUT_OF_RESOURCES:
        print(f"Accepting paused: {error.strerror}")
    elif isinstance(error, ValueError) and retry:
        print("Accepting again failed: the server has closed")
    else:
        loop.default_exception_handler(context)


# --8<-- [end:accept_errors]
def shown(host: str) -> str:
    """An IPv6 address goes in brackets, so its port stays apart."""
    return f"[{host}]" if ":" in host else host


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0: any free")
    parser.add_argument("--deadline", type=float, default=DEADLINE)
    parser.add_argument("--max-clients", type=int, default=MAX_CLIENTS)
    parser.add_argument("--shutdown-grace", type=float, default=SHUTDOWN_GRACE)
    args = parser.parse_args()

    server = serve(
        args.host,
        args.port,
        args.deadline,
        args.max_clients,
        args.shutdown_grace,
    )
    asyncio.run(server)
    print("Server stopped")


if __name__ == "__main__":
    main()
