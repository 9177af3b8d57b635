"""Wake-ups for a run's event streams from writers in the same trainer instance.

A writer calls ``changed(run_id)`` once its change has committed (a worker's event, a claim, a settle, a
cancel); the run's open streams on this instance read the log at once instead of at their next poll.
Writes by other instances are still found by the poll (``events_poll_s``), so this only shortens it.
A stream takes its ``watch`` before it reads the log: a change that commits between the read and the
wait has already set the event it then waits on, so none is missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref


class RunChanges:
    def __init__(self) -> None:
        # Only streams hold their events: once the last stream of a run has gone, its entry goes too.
        self._watches: weakref.WeakValueDictionary[str, asyncio.Event] = weakref.WeakValueDictionary()

    def watch(self, run_id: str) -> asyncio.Event:
        event = self._watches.get(run_id)
        if event is None:
            event = self._watches[run_id] = asyncio.Event()
        return event

    def changed(self, run_id: str) -> None:
        event = self._watches.pop(run_id, None)
        if event is not None:
            event.set()

    @staticmethod
    async def wait(event: asyncio.Event, *, timeout_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout=timeout_s)
