"""Helpers for fault tests: real `captem serve` processes on free loopback ports, configured
through the environment the way a deployment configures them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from tests.support.receiver import _free_port
from tests.support.tokens import TEST_SECRET


def service_env(urls: dict[str, str], data_dir: Path, **overrides: object) -> dict[str, str]:
    """The environment of a service process: the test databases, the test JWT secret, short
    outbox retries, and nothing inherited from the developer's own CAPTEM_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPTEM_")}
    values: dict[str, object] = {
        "env": "test",
        "jwt_secret": TEST_SECRET,
        "data_dir": str(data_dir),
        "pro_database_url": urls["pro_api"],
        "safety_database_url": urls["safety_api"],
        "outbox_retry_schedule_s": [0.0, 0.2, 0.2, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0],
        "outbox_poll_interval_s": 0.1,
        "outbox_jitter": 0.0,
        "log_level": "WARNING",
        "escalation_interval_s": 3600,
        "reminder_interval_s": 3600,
    }
    values.update(overrides)
    for key, value in values.items():
        text = json.dumps(value) if isinstance(value, list | tuple) else str(value)
        env[f"CAPTEM_{key.upper()}"] = text
    return env


def read_log(log: Path) -> str:
    return log.read_text(errors="replace")


def spawn(service: str, env: dict[str, str], log: Path, port: int) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "services.common.cli", "serve", service, "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def wait_healthy(
    port: int, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=1) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"service on port {port} exited early:\n{read_log(log)}")
            try:
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"service on port {port} did not answer /healthz in {timeout_s} s")


async def wait_exit(process: subprocess.Popen[bytes], timeout_s: float) -> int | None:
    """The exit code, waiting without blocking the event loop; None if still running."""
    deadline = time.monotonic() + timeout_s
    while process.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return process.poll()


@asynccontextmanager
async def serve(
    service: str, env: dict[str, str], log: Path, port: int | None = None
) -> AsyncIterator[tuple[subprocess.Popen[bytes], str]]:
    """`captem serve <service>` as a child process, its output in ``log`` (a file, so a chatty
    process never blocks on a full pipe); yields it and its base URL. Stopped with SIGTERM (then
    killed if it hangs) unless the test already stopped it."""
    port = port or _free_port()
    process = spawn(service, env, log, port)
    try:
        await wait_healthy(port, process, log)
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            if await wait_exit(process, 40) is None:
                process.kill()
                process.wait()
