"""A loop that a server process runs beside its requests, from its lifespan's start to
its shutdown (the webhook dispatcher, housekeeping)."""

from __future__ import annotations

import asyncio
import contextlib


class BackgroundLoop:
    """Owns one asyncio task running ``_run``; ``stop`` cancels it and waits for it."""

    name = "background"

    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        raise NotImplementedError
