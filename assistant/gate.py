"""How many service calls the API servers (/v1 and MCP) run at once, and how many may wait.

Answering is CPU-bound, so like the UI's Gradio queue the gate runs `ui_concurrency` calls at once;
up to `api_queue` more wait their turn (asynchronously, holding no thread), and a request beyond
that is refused at once with `Busy`, which the adapters turn into HTTP 429 or an MCP tool error.

Admission and the wait are separate steps so a streamed reply can be refused with a status code
before its response starts, and still wait for its turn inside the stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Busy(RuntimeError):
    """Every slot is answering and the queue is full: retry later."""


class Ticket:
    """One admitted request's place; `release` gives it back and may be called more than once."""

    def __init__(self, gate: ServiceGate) -> None:
        self._gate: ServiceGate | None = gate

    def release(self) -> None:
        if self._gate is not None:
            self._gate.admitted -= 1
            self._gate = None


class ServiceGate:
    """Admission and concurrency control, used from one event loop (the server's)."""

    def __init__(self, concurrency: int, queue: int) -> None:
        self.concurrency = concurrency
        self.queue = queue
        self.admitted = 0  # running + waiting; only touched from the event loop's thread, so no lock
        self._semaphore: asyncio.Semaphore | None = None

    def admit(self) -> Ticket:
        """A place, running or waiting, or Busy when `concurrency + queue` requests already hold one."""
        if self.admitted >= self.concurrency + self.queue:
            raise Busy(f"paperchat is busy: {self.concurrency} request(s) are being answered and {self.queue} "
                       "are waiting, the most it queues (ui_concurrency, api_queue); retry in a few seconds")
        self.admitted += 1
        return Ticket(self)

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait for one of the `concurrency` running slots."""
        if self._semaphore is None:  # made here, inside the running loop, not at construction
            self._semaphore = asyncio.Semaphore(self.concurrency)
        async with self._semaphore:
            yield

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Admit (Busy at once when full), wait for a turn, and give the place back on exit."""
        ticket = self.admit()
        try:
            async with self.turn():
                yield
        finally:
            ticket.release()
