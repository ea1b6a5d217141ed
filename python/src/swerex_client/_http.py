"""One pooled aiohttp session per client, auth headers, bounded waits, and error answers as exceptions."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from .exceptions import SwerexAPIError, exception_from_transfer

#: Status of SWE-ReX's exception envelope (``{"swerexception": {...}}``).
SWEREX_EXCEPTION_STATUS = 511
#: Default bound on one HTTP call (seconds). SWE-ReX's client used aiohttp's 300 s, which killed long
#: commands client-side; calls with their own timeout (a command's ``timeout``) get that plus a margin.
DEFAULT_REQUEST_TIMEOUT_S = 1800.0
#: Added to a command's own timeout so the server's answer (a CommandTimeoutError) arrives first.
TIMEOUT_MARGIN_S = 30.0
#: The longest wait the service grants one long-poll (``GET /trainer/requests``, ``.../calls/next``).
MAX_LONG_POLL_S = 60.0


def auth_headers(api_key: str | None) -> dict[str, str]:
    # `X-API-Key` is what SWE-ReX clients send; swerex-remote and the control plane both accept it.
    return {"X-API-Key": api_key} if api_key else {}


def _message_of(body: Any, text: str) -> tuple[str, str | None]:
    """The message and code of an error answer, whatever shape the server used."""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            code = err.get("code")
            return str(err.get("message", text)), code if isinstance(code, str) else None
        if isinstance(err, str):
            return err, None
        if "message" in body:
            code = body.get("code")
            return str(body["message"]), code if isinstance(code, str) else None
        if "detail" in body:
            detail = body["detail"]
            return (detail if isinstance(detail, str) else json.dumps(detail)), None
    return text[:2000], None


async def raise_for_answer(resp: aiohttp.ClientResponse) -> None:
    """Raises the transferred SWE-ReX exception (511) or a :class:`SwerexAPIError` (any other >= 400)."""
    if resp.status < 400:
        return
    text = await resp.text()
    try:
        body: Any = json.loads(text)
    except ValueError:
        body = text
    if resp.status == SWEREX_EXCEPTION_STATUS and isinstance(body, dict) and "swerexception" in body:
        raise exception_from_transfer(body["swerexception"])
    message, code = _message_of(body, text)
    raise SwerexAPIError(resp.status, message, code=code, body=body)


class HttpBase:
    """Holds the base URL, the auth headers and one keep-alive session, created on first use."""

    def __init__(self, url: str, api_key: str | None = None, *, timeout: float = DEFAULT_REQUEST_TIMEOUT_S):
        if not url.startswith(("http://", "https://")):
            url = f"http://{url}"
        self.url = url.rstrip("/")
        self._api_key = api_key
        self._headers = auth_headers(api_key)
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers)
        return self._session

    def _bound(self, seconds: float | None) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(total=seconds if seconds is not None else self._timeout)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        async with self._http().request(
            method,
            f"{self.url}{path}",
            json=json,
            params=params,
            headers=headers,
            timeout=self._bound(None),
        ) as resp:
            await raise_for_answer(resp)
            if resp.status == 204:
                return None
            return await resp.json()

    async def _long_poll(self, path: str, params: dict[str, str], wait: float) -> Any | None:
        """``GET path`` that the server holds up to ``wait`` seconds: the JSON answer, or None on 204."""
        async with self._http().get(
            f"{self.url}{path}", params=params, timeout=self._bound(wait + TIMEOUT_MARGIN_S)
        ) as resp:
            await raise_for_answer(resp)
            return None if resp.status == 204 else await resp.json()

    async def aclose(self) -> None:
        """Closes the pooled connections (the server and what it runs are not affected)."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def __repr__(self) -> str:
        # Never the key.
        return f"{type(self).__name__}({self.url!r})"
