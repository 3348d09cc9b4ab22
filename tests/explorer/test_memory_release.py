"""The server releases the memory of closed sessions only while no page is changing (explorer/server.py)."""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from nwb_ketamine.explorer.server import QUIET_S, SessionCount


async def _released_after(count: SessionCount, changes: int) -> float:
    """Ask for a release now, keep a page changing ``changes`` times 0.3 s apart; seconds until released."""
    start = time.monotonic()
    count._trim_pending = True
    count._changed(None)  # a page changed just now
    count._trim()
    assert count._trim_pending  # not released while a page has just changed
    for _ in range(changes):
        await asyncio.sleep(0.3)
        count._changed(None)
    while count._trim_pending:
        await asyncio.sleep(0.05)
    return time.monotonic() - start


def _run(changes: int) -> float:
    """:func:`_released_after` on an event loop of its own thread (the browser tests leave one in this one)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _released_after(SessionCount(), changes)).result(timeout=60)


def test_memory_is_released_once_the_pages_are_quiet():
    assert _run(0) >= QUIET_S
    # each change postpones it: released no sooner than QUIET_S after the last one
    assert _run(3) >= 3 * 0.3 + QUIET_S
