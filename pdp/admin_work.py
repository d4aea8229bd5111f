"""A bounded pool of threads for admin work, apart from the threads the decision path uses.

Admin requests wait on the database; when it hangs, they must not take the event loop's
shared worker threads, which `/decide` needs to fetch an issuer's JWKS. They run here
instead, and a request whose work has not finished within the bound answers 503: its work is
dropped if it has not started, or left to finish on its own thread if it has.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pdp.errors import StoreUnavailable

T = TypeVar("T")
# At most this many admin requests touch the database at once per process; more wait.
ADMIN_THREADS = 8


class AdminWork:
    """Runs admin work on its own threads, waiting for each at most `wait_seconds`."""

    def __init__(self, wait_seconds: float, threads: int = ADMIN_THREADS) -> None:
        self._wait_seconds = wait_seconds
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="admin")

    async def run(self, fn: Callable[[], T]) -> T:
        future = self._executor.submit(fn)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self._wait_seconds)
        except TimeoutError:
            future.cancel()
            raise StoreUnavailable(
                f"the store did not answer within {self._wait_seconds:g} s"
            ) from None

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
