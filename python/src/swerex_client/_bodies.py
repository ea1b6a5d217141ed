"""Request bodies and queries that several clients send the same way."""

from __future__ import annotations

from typing import Any


def list_params(
    state: str | None, metadata: dict[str, str] | None, limit: int | None, cursor: str | None
) -> dict[str, str]:
    """The query of a list route (``GET /v1/sandboxes``, ``GET /v1/rollouts``)."""
    params: dict[str, str] = {}
    if state is not None:
        params["state"] = state
    for k, v in (metadata or {}).items():
        params[f"metadata.{k}"] = v
    if limit is not None:
        params["limit"] = str(limit)
    if cursor is not None:
        params["cursor"] = cursor
    return params


def given(**fields: Any) -> dict[str, Any]:
    """A request body of the fields that were given: those passed as None are left out."""
    return {k: v for k, v in fields.items() if v is not None}


def policy_response(content: str | None, finish_reason: str, **fields: Any) -> dict[str, Any]:
    """A PolicyResponse body (a trainer's answer to a model call); ``content`` is sent even when None."""
    return {"content": content, "finish_reason": finish_reason, **given(**fields)}
