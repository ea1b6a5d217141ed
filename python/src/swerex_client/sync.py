"""Thin blocking wrappers over the asyncio clients, for scripts and notebooks without an event loop.

Each wrapper owns one event loop on a daemon thread; every method runs the async client's coroutine there and
waits for it. Same methods, same arguments, same results and exceptions::

    with SyncSwerexClient(url, api_key) as client:
        with client.sandbox({"type": "local"}) as sbx:
            rt = client.runtime(sbx.id)
            rt.create_session(CreateBashSessionRequest())
            print(rt.run_in_session(BashAction(command="ls")).output)
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .client import Sandbox, SwerexClient
from .runtime import RuntimeClient
from .trainer import TrainerClient


class _Loop:
    """An event loop on its own daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="swerex-client-sync", daemon=True)
        self._thread.start()

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class _Blocking:
    """Every coroutine method of ``inner`` as a blocking call on ``loop``; other attributes as they are."""

    def __init__(self, inner: Any, loop: _Loop, owns_loop: bool) -> None:
        self._inner = inner
        self._loop = loop
        self._owns_loop = owns_loop

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if inspect.iscoroutinefunction(attr):
            return lambda *args, **kwargs: self._loop.run(attr(*args, **kwargs))
        return attr

    def close_client(self) -> None:
        """Closes the connections (and the loop, when this wrapper made it)."""
        self._loop.run(self._inner.aclose())
        if self._owns_loop:
            self._loop.stop()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close_client()

    def __repr__(self) -> str:
        return f"Sync{self._inner!r}"


class SyncRuntimeClient(_Blocking):
    """Blocking :class:`RuntimeClient`."""

    def __init__(self, url: str, api_key: str | None = None, **kwargs: Any) -> None:
        loop = _Loop()
        super().__init__(loop.run(_make(RuntimeClient, url, api_key, **kwargs)), loop, owns_loop=True)


class SyncTrainerClient(_Blocking):
    """Blocking :class:`TrainerClient`."""

    def __init__(self, url: str, token: str | None = None, **kwargs: Any) -> None:
        loop = _Loop()
        super().__init__(loop.run(_make(TrainerClient, url, token, **kwargs)), loop, owns_loop=True)


class SyncSwerexClient(_Blocking):
    """Blocking :class:`SwerexClient`; ``runtime(id)`` gives a blocking runtime client on the same loop."""

    def __init__(self, url: str, api_key: str | None = None, **kwargs: Any) -> None:
        loop = _Loop()
        super().__init__(loop.run(_make(SwerexClient, url, api_key, **kwargs)), loop, owns_loop=True)

    def runtime(self, sandbox_id: str) -> _Blocking:
        return _Blocking(self._inner.runtime(sandbox_id), self._loop, owns_loop=False)

    @contextmanager
    def sandbox(self, deployment: dict[str, Any] | None = None, **kwargs: Any) -> Iterator[Sandbox]:
        """A running sandbox for the block, deleted when it ends (also on an exception)."""
        cm = self._inner.sandbox(deployment, **kwargs)
        sbx = self._loop.run(cm.__aenter__())
        try:
            yield sbx
        except BaseException as exc:
            if not self._loop.run(cm.__aexit__(type(exc), exc, exc.__traceback__)):
                raise
        else:
            self._loop.run(cm.__aexit__(None, None, None))


async def _make(cls: type, *args: Any, **kwargs: Any) -> Any:
    # aiohttp sessions belong to the loop they are made on: build the client there.
    return cls(*args, **kwargs)
