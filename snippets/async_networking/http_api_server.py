"""A small JSON API with aiohttp: routes, JSON bodies, and errors as JSON.

It answers like httpbin.org, on your own machine, which makes it a good server
to try HTTP clients against. Run it, then aiohttp_get_post.py:

    python http_api_server.py
"""

import argparse
import asyncio
import contextlib
import json
import logging
import signal

from aiohttp import web

HOST = "127.0.0.1"  # loopback: reachable from this machine only
PORT = 8080
MAX_BODY_SIZE = 64 * 1024  # bytes: larger request bodies get 413
MAX_DELAY = 10.0  # seconds /delay/ may wait
SHUTDOWN_TIMEOUT = 5.0  # seconds requests in progress get to finish on Ctrl+C

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


# --8<-- [start:routes]
@routes.get("/get")
async def get(request: web.Request) -> web.Response:
    """Return the query string's parameters."""
    return web.json_response({"args": dict(request.query)})


@routes.post("/post")
async def post(request: web.Request) -> web.Response:
    """Return the form fields or the JSON document that was posted."""
    if request.content_type == "application/json":
        try:
            document = await request.json()
        except json.JSONDecodeError as error:
            raise web.HTTPBadRequest(text=f"Invalid JSON: {error.msg}") from None
        return web.json_response({"json": document})
    if request.content_type == "application/x-www-form-urlencoded":
        # Reading the body enforces client_max_size: a larger one raises 413.
        form = await request.post()
        return web.json_response({"form": dict(form)})
    raise web.HTTPUnsupportedMediaType(text="Send a form or JSON")


@routes.get(r"/delay/{seconds:\d+(\.\d+)?}")
async def delay(request: web.Request) -> web.Response:
    """Answer after the given number of seconds, at most MAX_DELAY."""
    seconds = float(request.match_info["seconds"])
    if seconds > MAX_DELAY:
        raise web.HTTPBadRequest(text=f"At most {MAX_DELAY} seconds")
    # Waiting here costs no thread: other requests are served meanwhile.
    await asyncio.sleep(seconds)
    return web.json_response({"delay": seconds})


# --8<-- [end:routes]
# --8<-- [start:errors]
@web.middleware
async def errors_as_json(request: web.Request, handler) -> web.StreamResponse:
    """Turn every error into a JSON body: {"error": "...", "status": ...}."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:  # redirects and other non-errors go out as they are
            raise
        body = {"error": error.text, "status": error.status}
        return web.json_response(body, status=error.status)
    except Exception:
        # A bug of ours: log the traceback, but tell the client no more.
        log.exception("Error in %s %s", request.method, request.path)
        body = {"error": "Internal Server Error", "status": 500}
        return web.json_response(body, status=500)


# --8<-- [end:errors]
# --8<-- [start:app]
def make_app() -> web.Application:
    # client_max_size: reading a larger body raises 413 Request Entity Too Large.
    app = web.Application(middlewares=[errors_as_json], client_max_size=MAX_BODY_SIZE)
    app.add_routes(routes)
    return app


async def serve(host: str, port: int) -> None:
    """Serve make_app() until SIGINT or SIGTERM."""
    runner = web.AppRunner(
        make_app(),
        shutdown_timeout=SHUTDOWN_TIMEOUT,
        # A client that hangs up cancels its handler: no work for no one.
        handler_cancellation=True,
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        bound_host, bound_port = runner.addresses[0][:2]
        print(f"Listening on {bound_host}:{bound_port}", flush=True)
        await wait_for_stop_signal()
    finally:
        # Stops accepting, lets requests in progress finish, closes the rest.
        await runner.cleanup()


async def wait_for_stop_signal() -> None:
    """Return on Ctrl+C (SIGINT) or SIGTERM, which service managers send."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Unix only: on Windows, Ctrl+C ends asyncio.run() with KeyboardInterrupt.
    with contextlib.suppress(NotImplementedError):
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signal_number, stop.set)
    await stop.wait()


# --8<-- [end:app]
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT, help="0 picks a free port")
    args = parser.parse_args()

    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve(args.host, args.port))
    print("Server stopped")


if __name__ == "__main__":
    main()
