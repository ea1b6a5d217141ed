"""An asyncio client of the swerex-remote protocol (SWE-ReX's ``RemoteRuntime``, same methods and models).

It talks to a ``swerex-remote`` server (``RuntimeClient("http://host:8000", api_key=TOKEN)``) or to a sandbox
through the control plane's pass-through (``RuntimeClient(f"{url}/v1/sandboxes/{id}/runtime", api_key=KEY)``,
or ``sandbox.runtime`` from :class:`~swerex_client.SwerexClient`). Differences from SWE-ReX's client, all on
purpose: one pooled keep-alive connection per client instead of one connection per call; a call whose
command has a ``timeout`` waits that long plus a margin (SWE-ReX's fixed 300 s cut long commands off
client-side); errors other than the 511 envelope raise :class:`SwerexAPIError` with the status.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import TypeVar

import aiohttp

from ._http import TIMEOUT_MARGIN_S, HttpBase, raise_for_answer
from .models import (
    Action,
    BashInterruptAction,
    BashObservation,
    CloseBashSessionResponse,
    CloseResponse,
    CloseSessionRequest,
    Command,
    CommandResponse,
    CreateBashSessionResponse,
    CreateSessionRequest,
    IsAliveResponse,
    ReadFileRequest,
    ReadFileResponse,
    UploadRequest,
    UploadResponse,
    WriteFileRequest,
    WriteFileResponse,
    _Model,
)

M = TypeVar("M", bound=_Model)

#: SWE-ReX's default for ``is_alive`` (seconds).
DEFAULT_IS_ALIVE_TIMEOUT_S = 0.15


class RuntimeClient(HttpBase):
    """``AbstractRuntime`` over HTTP. Use as ``async with RuntimeClient(url, api_key) as rt: ...``."""

    async def __aenter__(self) -> RuntimeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def is_alive(self, *, timeout: float | None = None) -> IsAliveResponse:
        """Never raises: a server that does not answer in ``timeout`` (default 0.15 s) is not alive."""
        try:
            async with self._http().get(
                f"{self.url}/is_alive", timeout=self._bound(timeout or DEFAULT_IS_ALIVE_TIMEOUT_S)
            ) as resp:
                if resp.status == 200:
                    return IsAliveResponse.from_dict(await resp.json())
                try:
                    await raise_for_answer(resp)
                except Exception as exc:  # noqa: BLE001 - is_alive reports, it does not raise
                    return IsAliveResponse(False, f"Status code {resp.status} from {self.url}/is_alive: {exc}")
                return IsAliveResponse(False, f"Status code {resp.status} from {self.url}/is_alive")
        except Exception as exc:  # noqa: BLE001
            return IsAliveResponse(False, f"Failed to connect to {self.url}: {type(exc).__name__}: {exc}")

    async def wait_until_alive(self, *, timeout: float = 60.0) -> None:
        """Polls ``is_alive`` until it answers; raises ``TimeoutError`` with the last message after ``timeout``."""
        deadline = time.monotonic() + timeout
        last = IsAliveResponse(False, "not polled")
        while time.monotonic() < deadline:
            last = await self.is_alive(timeout=min(2.0, max(0.15, deadline - time.monotonic())))
            if last:
                return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"runtime at {self.url} did not come alive within {timeout} s: {last.message}")

    async def _request(
        self, endpoint: str, payload: _Model | None, output: type[M], wait_s: float | None = None
    ) -> M:
        headers = {"X-Request-ID": str(uuid.uuid4())}
        body = payload.model_dump() if payload is not None else None
        async with self._http().post(
            f"{self.url}/{endpoint}", json=body, headers=headers, timeout=self._bound(wait_s)
        ) as resp:
            await raise_for_answer(resp)
            return output.from_dict(await resp.json())

    @staticmethod
    def _wait_for(timeout: float | None) -> float | None:
        return None if timeout is None else timeout + TIMEOUT_MARGIN_S

    async def create_session(self, request: CreateSessionRequest) -> CreateBashSessionResponse:
        return await self._request(
            "create_session", request, CreateBashSessionResponse, self._wait_for(request.startup_timeout)
        )

    async def run_in_session(self, action: Action) -> BashObservation:
        wait = None if isinstance(action, BashInterruptAction) else action.timeout
        return await self._request("run_in_session", action, BashObservation, self._wait_for(wait))

    async def close_session(self, request: CloseSessionRequest) -> CloseBashSessionResponse:
        return await self._request("close_session", request, CloseBashSessionResponse)

    async def execute(self, command: Command) -> CommandResponse:
        return await self._request("execute", command, CommandResponse, self._wait_for(command.timeout))

    async def read_file(self, request: ReadFileRequest) -> ReadFileResponse:
        return await self._request("read_file", request, ReadFileResponse)

    async def write_file(self, request: WriteFileRequest) -> WriteFileResponse:
        return await self._request("write_file", request, WriteFileResponse)

    async def upload(self, request: UploadRequest) -> UploadResponse:
        """Copies a file or a directory (zipped, then unzipped at ``target_path``) from this machine."""
        source = Path(request.source_path).expanduser().resolve()
        if not source.is_file() and not source.is_dir():
            raise ValueError(f"Source path {source} is not a file or directory")
        with tempfile.TemporaryDirectory(prefix="swerex-upload-") as tmp:
            if source.is_dir():
                path = Path(shutil.make_archive(os.path.join(tmp, "zipped_transfer"), "zip", source))
                filename, content_type, unzip = "zipped_transfer.zip", "application/zip", "true"
            else:
                path, filename, content_type, unzip = source, source.name, "application/octet-stream", "false"
            with path.open("rb") as fh:
                form = aiohttp.FormData()
                form.add_field("file", fh, filename=filename, content_type=content_type)
                form.add_field("target_path", request.target_path)
                form.add_field("unzip", unzip)
                async with self._http().post(
                    f"{self.url}/upload", data=form, timeout=self._bound(None)
                ) as resp:
                    await raise_for_answer(resp)
        return UploadResponse()

    async def close(self) -> CloseResponse:
        """Closes the runtime's sessions (SWE-ReX's ``close``); the server keeps running. Also frees our connections."""
        try:
            result = await self._request("close", None, CloseResponse)
        finally:
            await self.aclose()
        return result
