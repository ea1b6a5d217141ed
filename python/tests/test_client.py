"""``SwerexClient`` against a real ``swerex serve`` (issue 8's API v1): the sandbox lifecycle, the runtime
through the pass-through, ``async with client.sandbox()`` deleting whatever happens, and service errors as
Python exceptions."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from swerex_client import (
    BashAction,
    Command,
    CreateBashSessionRequest,
    SessionDoesNotExistError,
    SwerexAPIError,
    SwerexClient,
)

LOCAL = {"type": "local"}


@pytest.fixture
async def client(serve):
    async with SwerexClient(serve.url, api_key=serve.token) as c:
        yield c


async def test_lifecycle_and_runtime(client):
    tag = uuid.uuid4().hex[:8]
    sbx = await client.create_sandbox(LOCAL, ttl=600, metadata={"run": tag})
    assert sbx.id.startswith("sbx-") and sbx.state == "running"
    assert sbx.metadata == {"run": tag}
    try:
        got = await client.get_sandbox(sbx.id)
        assert (got.id, got.state) == (sbx.id, "running")
        page = await client.list_sandboxes(metadata={"run": tag})
        assert [s.id for s in page.items] == [sbx.id]
        listed = [s.id async for s in client.iter_sandboxes(state="running", metadata={"run": tag})]
        assert listed == [sbx.id]
        before = got.expires_at
        leased = await client.lease_sandbox(sbx.id, 1200)
        assert leased.expires_at is not None and before is not None and leased.expires_at > before

        rt = sbx.runtime
        assert (await rt.is_alive(timeout=10)).is_alive
        await rt.create_session(CreateBashSessionRequest(session="main", startup_timeout=60))
        obs = await rt.run_in_session(BashAction(command="echo $((6 * 7))", session="main", timeout=30))
        assert obs.output.strip() == "42"
        r = await rt.execute(Command(command="echo via-service", shell=True))
        assert r.stdout == "via-service\n"
        with pytest.raises(SessionDoesNotExistError):
            await rt.run_in_session(BashAction(command="true", session="nope", timeout=30))
    finally:
        stopped = await client.delete_sandbox(sbx.id)
    assert stopped.state == "stopped"
    again = await client.delete_sandbox(sbx.id)
    assert (again.id, again.state) == (sbx.id, "stopped")


async def test_sandbox_context_always_deletes(client):
    seen: list[str] = []
    with pytest.raises(RuntimeError, match="boom"):
        async with client.sandbox(LOCAL, ttl=600) as sbx:
            seen.append(sbx.id)
            raise RuntimeError("boom")
    assert (await client.get_sandbox(seen[0])).state == "stopped"

    started = asyncio.Event()

    async def body() -> None:
        async with client.sandbox(LOCAL, ttl=600) as s:
            seen.append(s.id)
            started.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(body())
    await asyncio.wait_for(started.wait(), 120)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await client.get_sandbox(seen[1])).state == "stopped"


async def test_service_errors_are_exceptions(serve, client):
    with pytest.raises(SwerexAPIError) as missing:
        await client.get_sandbox("sbx-does-not-exist")
    assert missing.value.status == 404
    async with SwerexClient(serve.url, api_key="wrong-key") as bad:
        with pytest.raises(SwerexAPIError) as denied:
            await bad.list_sandboxes()
        assert denied.value.status == 401
    with pytest.raises(SwerexAPIError) as invalid:
        await client.create_sandbox({"type": "no-such-deployment"})
    assert invalid.value.status == 422
    # Another key does not see this key's sandboxes.
    async with client.sandbox(LOCAL, ttl=600) as sbx:
        async with SwerexClient(serve.url, api_key=f"other-{serve.token}") as other:
            with pytest.raises(SwerexAPIError) as hidden:
                await other.get_sandbox(sbx.id)
            assert hidden.value.status == 404


def test_blocking_sandbox(serve):
    from swerex_client.sync import SyncSwerexClient

    with SyncSwerexClient(serve.url, api_key=serve.token) as client:
        with pytest.raises(KeyError):
            with client.sandbox(LOCAL, ttl=600) as sbx:
                rt = client.runtime(sbx.id)
                assert rt.execute(Command(command="echo blocking", shell=True)).stdout == "blocking\n"
                raise KeyError("inside")
        assert client.get_sandbox(sbx.id).state == "stopped"
