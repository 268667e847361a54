"""An asyncio echo server: sends back each line it receives, to many clients at once.

Run it, then run async_echo_client.py in another terminal:

    python async_echo_server.py

Ctrl+C (or SIGTERM) stops it: it stops accepting, lets open connections
finish for a few seconds, then closes the rest.
"""

import argparse
import asyncio
import contextlib
import signal

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8766
MAX_LINE_LENGTH = 64 * 1024  # the StreamReader's limit: longer lines are refused
IDLE_TIMEOUT = 10.0  # seconds a client may stay silent before we hang up
SHUTDOWN_GRACE = 5.0  # seconds open connections get to finish on Ctrl+C


# --8<-- [start:echo]
async def echo_each_line(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, idle_timeout: float
) -> int:
    """Echo each line back until the client closes its side; return how many."""
    count = 0
    while True:
        try:
            # wait_for() (Python 3.10+) cancels the read if no line arrives in time.
            line = await asyncio.wait_for(reader.readuntil(b"\n"), idle_timeout)
        except asyncio.IncompleteReadError as error:
            if error.partial:  # the client closed in the middle of a line
                raise
            return count  # the client closed between lines: done
        writer.write(line)
        # drain() waits while the client reads slower than we write: a client
        # that never reads cannot make us buffer without end.
        await asyncio.wait_for(writer.drain(), idle_timeout)
        count += 1


# --8<-- [end:echo]
# --8<-- [start:handle]
async def handle_client(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, idle_timeout: float
) -> None:
    """Serve one connection, or log why not; never let one client stop the server."""
    try:
        count = await echo_each_line(reader, writer, idle_timeout)
    except asyncio.LimitOverrunError:
        print(f"Refused: line over {MAX_LINE_LENGTH} bytes")
    except asyncio.IncompleteReadError:
        print("Client closed the connection mid-line")
    except asyncio.TimeoutError:  # TimeoutError on 3.11+, its own class on 3.10
        print(f"Timed out: nothing for {idle_timeout} seconds")
    except ConnectionError as error:  # reset, broken pipe: the client went away
        print(f"Client went away: {error.strerror}")
    except asyncio.CancelledError:
        print("Connection closed by shutdown")
        raise  # never swallow a cancellation: whoever cancelled waits for it
    else:
        print(f"Echoed {count} lines")
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):  # already reset: nothing to flush
            await writer.wait_closed()


# --8<-- [end:handle]
# --8<-- [start:serve]
async def serve(
    host: str, port: int, idle_timeout: float, shutdown_grace: float
) -> None:
    """Serve until SIGINT or SIGTERM, then shut down cleanly."""
    connections: set[asyncio.Task] = set()

    async def on_connect(reader, writer):
        # One task per connection: remember it, so shutdown can wait for it.
        task = asyncio.current_task()
        connections.add(task)
        try:
            await handle_client(reader, writer, idle_timeout)
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
    # limit: the most a single readuntil() buffers before it gives up.
    server = await asyncio.start_server(on_connect, host, port, limit=MAX_LINE_LENGTH)
    bound_host, bound_port = server.sockets[0].getsockname()[:2]
    print(f"Listening on {bound_host}:{bound_port}", flush=True)
    await stop.wait()
    await shut_down(server, connections, shutdown_grace)


def stop_on_signals(stop: asyncio.Event) -> None:
    """Set `stop` on Ctrl+C (SIGINT) and on SIGTERM, which service managers send."""
    loop = asyncio.get_running_loop()
    # Unix only: on Windows, Ctrl+C ends asyncio.run() with KeyboardInterrupt.
    with contextlib.suppress(NotImplementedError):
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, stop.set)


async def shut_down(
    server: asyncio.Server, connections: set[asyncio.Task], grace: float
) -> None:
    """Stop accepting, give open connections `grace` seconds, cancel the rest."""
    server.close()
    if connections:
        print(f"Shutting down: {len(connections)} open, waiting up to {grace} s")
        _finished, unfinished = await asyncio.wait(connections, timeout=grace)
        for task in unfinished:
            task.cancel()
        # Wait until the cancelled tasks have run their cleanup.
        await asyncio.gather(*unfinished, return_exceptions=True)
    await server.wait_closed()


# --8<-- [end:serve]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0 picks a free port")
    parser.add_argument("--idle-timeout", type=float, default=IDLE_TIMEOUT)
    parser.add_argument("--shutdown-grace", type=float, default=SHUTDOWN_GRACE)
    args = parser.parse_args()

    asyncio.run(serve(args.host, args.port, args.idle_timeout, args.shutdown_grace))
    print("Server stopped")


if __name__ == "__main__":
    main()
