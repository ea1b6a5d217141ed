"""``SwerexClient``: sandboxes on a ``swerex serve`` control plane (API v1, issue 8), asyncio.

    async with SwerexClient("http://127.0.0.1:8080", api_key="KEY") as client:
        async with client.sandbox(deployment={"type": "docker", "image": "python:3.11"}) as sbx:
            await sbx.runtime.create_session(CreateBashSessionRequest())
            obs = await sbx.runtime.run_in_session(BashAction(command="python -V"))
        # the sandbox is deleted here, whatever happened inside the block

Every call raises :class:`~swerex_client.SwerexAPIError` (with ``status`` and the server's message) for an
error answer. Creating with an ``idempotency_key`` makes a retried create return the same sandbox.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from ._bodies import given, list_params
from ._http import DEFAULT_REQUEST_TIMEOUT_S, HttpBase
from .rollouts import RolloutsMixin
from .runtime import RuntimeClient

#: Seconds the guaranteed delete of ``client.sandbox(...)`` may take before it is abandoned.
DELETE_DEADLINE_S = 120.0


@dataclass
class Sandbox:
    """A sandbox record as the service returns it; ``runtime`` speaks swerex-remote through the service."""

    id: str
    state: str
    deployment: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    created_at: str | None = None
    started_at: str | None = None
    stopped_at: str | None = None
    expires_at: str | None = None
    error: dict[str, Any] | None = None
    runtime_url: str | None = None
    #: Every field of the answer, including ones this version does not know.
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    _client: SwerexClient | None = field(default=None, repr=False, compare=False)
    _runtime: RuntimeClient | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any], client: SwerexClient | None = None) -> Sandbox:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data and not k.startswith("_") and k != "raw"}
        return cls(**known, raw=data, _client=client)

    @property
    def runtime(self) -> RuntimeClient:
        """The swerex-remote protocol for this sandbox, through the service (its pass-through route)."""
        if self._client is None:
            raise RuntimeError("this Sandbox record is not attached to a client")
        if self._runtime is None:
            self._runtime = self._client.runtime(self.id)
        return self._runtime


@dataclass
class SandboxPage:
    items: list[Sandbox]
    next_cursor: str | None = None


class SwerexClient(RolloutsMixin, HttpBase):
    """The control plane's API. ``url`` is the service root (``http://host:8080``); ``api_key`` one of its keys.

    Sandboxes here; rollouts and the trainer loop (``/v1/rollouts``, ``/v1/calls``) from :class:`RolloutsMixin`.
    """

    def __init__(self, url: str, api_key: str | None = None, *, timeout: float = DEFAULT_REQUEST_TIMEOUT_S):
        super().__init__(url, api_key, timeout=timeout)
        self._runtimes: list[RuntimeClient] = []

    async def __aenter__(self) -> SwerexClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for rt in self._runtimes:
            await rt.aclose()
        self._runtimes.clear()
        await super().aclose()

    def runtime(self, sandbox_id: str) -> RuntimeClient:
        """A runtime client for ``sandbox_id`` through the pass-through (closed with this client)."""
        rt = RuntimeClient(f"{self.url}/v1/sandboxes/{sandbox_id}/runtime", self._api_key, timeout=self._timeout)
        self._runtimes.append(rt)
        return rt

    async def create_sandbox(
        self,
        deployment: dict[str, Any] | None = None,
        *,
        ttl: float | None = None,
        metadata: dict[str, str] | None = None,
        wait: bool = True,
        idempotency_key: str | None = None,
    ) -> Sandbox:
        """``POST /v1/sandboxes``: running when it returns (``wait=False``: still ``starting``)."""
        body = given(wait=wait, deployment=deployment, ttl=ttl, metadata=metadata)
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return Sandbox.from_dict(await self._call("POST", "/v1/sandboxes", json=body, headers=headers), self)

    async def get_sandbox(self, sandbox_id: str) -> Sandbox:
        return Sandbox.from_dict(await self._call("GET", f"/v1/sandboxes/{sandbox_id}"), self)

    async def list_sandboxes(
        self,
        *,
        state: str | None = None,
        metadata: dict[str, str] | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> SandboxPage:
        """One page of ``GET /v1/sandboxes``; pass ``next_cursor`` back as ``cursor`` for the next."""
        page = await self._call("GET", "/v1/sandboxes", params=list_params(state, metadata, limit, cursor))
        return SandboxPage(
            items=[Sandbox.from_dict(item, self) for item in page.get("items", [])],
            next_cursor=page.get("next_cursor"),
        )

    async def iter_sandboxes(self, **filters: Any) -> AsyncIterator[Sandbox]:
        """Every sandbox matching the filters of :meth:`list_sandboxes`, page after page."""
        cursor: str | None = None
        while True:
            page = await self.list_sandboxes(cursor=cursor, **filters)
            for item in page.items:
                yield item
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def lease_sandbox(self, sandbox_id: str, ttl: float) -> Sandbox:
        """``POST /v1/sandboxes/{id}/lease``: the sandbox lives ``ttl`` more seconds from now."""
        return Sandbox.from_dict(
            await self._call("POST", f"/v1/sandboxes/{sandbox_id}/lease", json={"ttl": ttl}), self
        )

    async def delete_sandbox(self, sandbox_id: str) -> Sandbox:
        """``DELETE /v1/sandboxes/{id}``: stops it; returns the stopped record (again on a second call)."""
        return Sandbox.from_dict(await self._call("DELETE", f"/v1/sandboxes/{sandbox_id}"), self)

    @asynccontextmanager
    async def sandbox(
        self,
        deployment: dict[str, Any] | None = None,
        *,
        ttl: float | None = None,
        metadata: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> AsyncIterator[Sandbox]:
        """A running sandbox for the block; deleted when the block ends, also on an error or a cancellation.

        The create is idempotent (a key is made when none is given), so a create that failed in flight and
        is retried by the caller never leaves a second sandbox behind.
        """
        key = idempotency_key or f"swerex-client-{uuid.uuid4()}"
        sbx: Sandbox | None = None
        try:
            try:
                sbx = await self.create_sandbox(deployment, ttl=ttl, metadata=metadata, idempotency_key=key)
            except (OSError, asyncio.TimeoutError, aiohttp.ClientError):
                # The answer was lost, not necessarily the sandbox: the same key finds it, so it can be deleted.
                found = await self.create_sandbox(
                    deployment, ttl=ttl, metadata=metadata, wait=False, idempotency_key=key
                )
                await asyncio.wait_for(self.delete_sandbox(found.id), DELETE_DEADLINE_S)
                raise
            yield sbx
        finally:
            # Shielded: a cancelled task still deletes what it created (bounded, so it cannot hang).
            if sbx is not None:
                try:
                    await asyncio.shield(asyncio.wait_for(self.delete_sandbox(sbx.id), DELETE_DEADLINE_S))
                finally:
                    if sbx._runtime is not None:
                        await sbx._runtime.aclose()
