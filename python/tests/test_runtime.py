"""``RuntimeClient`` against a real ``swerex-remote`` (our TypeScript server): SWE-ReX's models on the wire,
and its error classes back, with their ``extra_info``."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from swerex_client import (
    BashAction,
    BashIncorrectSyntaxError,
    BashInterruptAction,
    CloseBashSessionRequest,
    Command,
    CommandTimeoutError,
    CreateBashSessionRequest,
    NonZeroExitCodeError,
    ReadFileRequest,
    RuntimeClient,
    SessionDoesNotExistError,
    SwerexAPIError,
    SwerexException,
    UploadRequest,
    WriteFileRequest,
)


@pytest.fixture
async def rt(remote):
    async with RuntimeClient(remote.url, api_key=remote.token) as client:
        yield client


def session_name() -> str:
    return f"s-{uuid.uuid4().hex[:8]}"


async def test_is_alive_and_auth(remote, rt):
    alive = await rt.is_alive(timeout=10)
    assert alive.is_alive is True and bool(alive)
    async with RuntimeClient(remote.url, api_key="wrong") as bad:
        answer = await bad.is_alive(timeout=10)
        assert answer.is_alive is False
        assert "401" in answer.message
        with pytest.raises(SwerexAPIError) as err:
            await bad.execute(Command(command="true", shell=True))
        assert err.value.status == 401
    async with RuntimeClient("http://127.0.0.1:9", api_key="x") as nowhere:
        down = await nowhere.is_alive(timeout=2)
        assert down.is_alive is False and "Failed to connect" in down.message
    await rt.wait_until_alive(timeout=30)


async def test_session_lifecycle(rt):
    name = session_name()
    created = await rt.create_session(CreateBashSessionRequest(session=name, startup_timeout=60))
    assert created.session_type == "bash"
    obs = await rt.run_in_session(BashAction(command="export X=42; echo $((X + 1))", session=name, timeout=30))
    assert obs.output.strip() == "43"
    assert obs.exit_code == 0
    # State persists between commands of one session.
    obs = await rt.run_in_session(BashAction(command="echo $X", session=name, timeout=30))
    assert obs.output.strip() == "42"
    silent = await rt.run_in_session(BashAction(command="false", session=name, timeout=30, check="silent"))
    assert silent.exit_code == 1
    with pytest.raises(NonZeroExitCodeError):
        await rt.run_in_session(BashAction(command="false", session=name, timeout=30, check="raise"))
    closed = await rt.close_session(CloseBashSessionRequest(session=name))
    assert closed.session_type == "bash"
    with pytest.raises(SessionDoesNotExistError) as err:
        await rt.run_in_session(BashAction(command="echo hi", session=name, timeout=30))
    assert isinstance(err.value, ValueError) and isinstance(err.value, SwerexException)
    assert err.value.class_path == "swerex.exceptions.SessionDoesNotExistError"


async def test_timeout_interrupt_and_syntax_error(rt):
    name = session_name()
    await rt.create_session(CreateBashSessionRequest(session=name, startup_timeout=60))
    with pytest.raises(CommandTimeoutError) as err:
        await rt.run_in_session(BashAction(command="sleep 30", session=name, timeout=0.5))
    assert isinstance(err.value, TimeoutError)
    await rt.run_in_session(BashInterruptAction(session=name))
    after = await rt.run_in_session(BashAction(command="echo back", session=name, timeout=30))
    assert after.output.strip() == "back"
    with pytest.raises(BashIncorrectSyntaxError) as syntax:
        await rt.run_in_session(BashAction(command="echo 'unterminated", session=name, timeout=30))
    assert "bash_stdout" in syntax.value.extra_info and "bash_stderr" in syntax.value.extra_info
    await rt.close_session(CloseBashSessionRequest(session=name))


async def test_execute(rt):
    r = await rt.execute(Command(command=["python3", "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"]))
    assert (r.stdout, r.stderr, r.exit_code) == ("out\n", "err\n", 3)
    merged = await rt.execute(Command(command="echo a; echo b >&2", shell=True, merge_output_streams=True))
    assert merged.stdout == "a\nb\n" and merged.stderr == ""
    env = await rt.execute(Command(command="echo ${ONLY:-unset} ${HOME:-nohome}", shell=True, env={"ONLY": "me"}))
    assert env.stdout.strip() == "me nohome"
    with pytest.raises(NonZeroExitCodeError):
        await rt.execute(Command(command="exit 2", shell=True, check=True))


async def test_files_and_upload(rt, tmp_path: Path):
    target = tmp_path / "remote"
    await rt.write_file(WriteFileRequest(content="héllo\n", path=str(target / "a" / "b.txt")))
    got = await rt.read_file(ReadFileRequest(path=str(target / "a" / "b.txt")))
    assert got.content == "héllo\n"
    with pytest.raises(FileNotFoundError):
        await rt.read_file(ReadFileRequest(path=str(target / "missing.txt")))

    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / "pkg" / "mod.py").write_text("X = 1\n")
    (src / "top.txt").write_text("top\n")
    await rt.upload(UploadRequest(source_path=str(src), target_path=str(tmp_path / "uploaded")))
    assert (tmp_path / "uploaded" / "pkg" / "mod.py").read_text() == "X = 1\n"
    assert (tmp_path / "uploaded" / "top.txt").read_text() == "top\n"
    await rt.upload(UploadRequest(source_path=str(src / "top.txt"), target_path=str(tmp_path / "one.txt")))
    assert (tmp_path / "one.txt").read_text() == "top\n"
    with pytest.raises(ValueError):
        await rt.upload(UploadRequest(source_path=str(tmp_path / "nope"), target_path=str(tmp_path / "x")))


async def test_models_match_the_wire(rt):
    # Every default is sent, discriminators included, as SWE-ReX's pydantic model_dump() does.
    assert BashAction(command="ls").model_dump() == {
        "command": "ls",
        "session": "default",
        "timeout": None,
        "is_interactive_command": False,
        "is_interactive_quit": False,
        "check": "raise",
        "error_msg": "",
        "expect": [],
        "action_type": "bash",
    }
    assert BashInterruptAction().model_dump() == {
        "session": "default",
        "timeout": 0.2,
        "n_retry": 3,
        "expect": [],
        "action_type": "bash_interrupt",
    }
    assert CreateBashSessionRequest().model_dump() == {
        "startup_source": [],
        "session": "default",
        "session_type": "bash",
        "startup_timeout": 1.0,
    }


def test_blocking_wrapper(remote, tmp_path: Path):
    from swerex_client.sync import SyncRuntimeClient

    with SyncRuntimeClient(remote.url, api_key=remote.token) as rt:
        assert rt.is_alive(timeout=10).is_alive
        name = session_name()
        rt.create_session(CreateBashSessionRequest(session=name, startup_timeout=60))
        assert rt.run_in_session(BashAction(command="echo sync", session=name, timeout=30)).output.strip() == "sync"
        with pytest.raises(CommandTimeoutError):
            rt.run_in_session(BashAction(command="sleep 30", session=name, timeout=0.5))
        rt.write_file(WriteFileRequest(content="x", path=str(tmp_path / "f")))
        assert rt.read_file(ReadFileRequest(path=str(tmp_path / "f"))).content == "x"
