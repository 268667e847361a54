"""The way older tutorials start asyncio, which newer Pythons refuse.

    python3 legacy_event_loop.py

Python 3.10 and 3.11 run it; 3.12 and 3.13 warn (DeprecationWarning: There
is no current event loop); 3.14 stops with RuntimeError. The fix is one
line: asyncio.run(greeting()).
"""

import asyncio


async def greeting() -> str:
    await asyncio.sleep(0)  # a coroutine that waits for something
    return "Hello"


def main() -> None:
    loop = asyncio.get_event_loop()  # no loop runs yet: the old way
    try:
        print(loop.run_until_complete(greeting()))
    finally:
        loop.close()


if __name__ == "__main__":
    main()
