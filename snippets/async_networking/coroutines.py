"""Three coroutines share one thread: while one waits, the others run.

Run it:

    python3 coroutines.py
"""

import asyncio


# --8<-- [start:log]
def log(event: str) -> None:
    # Every line the program prints, in the order it printed them:
    print(event)
    #> fast starts
    #> medium starts
    #> slow starts
    #> fast done
    #> medium done
    #> slow done
    #> ['fast', 'medium', 'slow']


# --8<-- [end:log]


# --8<-- [start:coroutines]
async def wait_and_report(name: str, seconds: float) -> str:
    log(f"{name} starts")
    # await hands control back to the event loop until the sleep is over;
    # a network read does the same until data arrives.
    await asyncio.sleep(seconds)
    log(f"{name} done")
    return name


async def run_all() -> None:
    # Calling a coroutine function runs nothing yet: it makes a coroutine.
    # gather() wraps each in a task, and the event loop runs the tasks
    # together: this takes 0.3 seconds, not 0.6.
    finished = await asyncio.gather(
        wait_and_report("fast", 0.1),
        wait_and_report("medium", 0.2),
        wait_and_report("slow", 0.3),
    )
    log(str(finished))  # the results, in the order of gather's arguments


# --8<-- [end:coroutines]


def main() -> None:
    # asyncio.run() creates the event loop, runs the coroutine to the end,
    # then closes the loop: the one way a program should start asyncio.
    asyncio.run(run_all())


if __name__ == "__main__":
    main()
