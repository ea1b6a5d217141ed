"""Real servers for the tests: ``swerex-remote`` from this checkout's TypeScript sources, started as a
subprocess on a free loopback port and stopped after the tests (nothing is mocked)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: The checkout whose `swerex serve` the tests start (default: this one; for trying a service branch).
SERVE_REPO = Path(os.environ.get("SWEREX_TEST_REPO", REPO))
START_DEADLINE_S = 90.0
STOP_DEADLINE_S = 20.0


@dataclass
class Server:
    url: str
    token: str
    process: subprocess.Popen[str]
    output: list[str]


def start_node(
    args: list[str],
    ready: re.Pattern[str],
    token: str,
    env: dict[str, str] | None = None,
    cwd: Path = REPO,
) -> Server:
    """Starts ``node --import tsx <args>`` in ``cwd`` and waits (bounded) for ``ready`` on its output."""
    proc = subprocess.Popen(
        ["node", "--import", "tsx", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, "SWEREX_LOG_LEVEL": "warn", **(env or {})},
    )
    lines: list[str] = []
    found: list[str] = []
    event = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            m = ready.search(line)
            if m and not found:
                found.append(m.group(1))
                event.set()
        event.set()

    threading.Thread(target=pump, daemon=True).start()
    if not event.wait(START_DEADLINE_S) or not found:
        stop(proc)
        raise RuntimeError(f"{' '.join(args)} did not start: {''.join(lines)[-2000:]}")
    return Server(url=found[0], token=token, process=proc, output=lines)


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(STOP_DEADLINE_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(STOP_DEADLINE_S)


@pytest.fixture(scope="session")
def remote() -> Iterator[Server]:
    """A ``swerex-remote --auth-token <random>`` on 127.0.0.1."""
    token = f"tok-{time.time_ns()}"
    server = start_node(
        ["src/cli/swerex-remote.ts", "--host", "127.0.0.1", "--port", "0", "--auth-token", token],
        re.compile(r"listening on (http://\S+)"),
        token,
    )
    try:
        yield server
    finally:
        stop(server.process)


@pytest.fixture(scope="session")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A ``swerex serve`` (the control plane, issue 8) with two API keys, on a fresh data directory.

    Skipped, saying why, in a tree that has no ``swerex serve`` yet.
    """
    if not (SERVE_REPO / "src/cli/commands/serve.ts").exists():
        pytest.skip(f"no `swerex serve` in {SERVE_REPO} (issue 8 has not landed there yet)")
    token = f"key-{time.time_ns()}"
    data_dir = tmp_path_factory.mktemp("swerex-serve")
    server = start_node(
        ["src/cli/swerex.ts", "serve", "--port", "0", "--data_dir", str(data_dir), "--log_level", "warn"],
        re.compile(r"swerex serve listening on (http://\S+)"),
        token,
        env={"SWEREX_API_KEYS": f"{token},other-{token}"},
        cwd=SERVE_REPO,
    )
    try:
        yield server
    finally:
        stop(server.process)
