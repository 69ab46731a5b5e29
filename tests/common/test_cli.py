"""The `captem` command: `run` brings both services up on a fresh data directory; `token`
mints tokens the services accept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from tests.support.receiver import _free_port


def test_captem_run_starts_both_services_and_stops_cleanly(tmp_path) -> None:
    pro_port, safety_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPTEM_")}
    env["CAPTEM_DATA_DIR"] = str(tmp_path / "var")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services.common.cli",
            "run",
            "--pro-port",
            str(pro_port),
            "--safety-port",
            str(safety_port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        healthy: set[int] = set()
        while time.monotonic() < deadline and len(healthy) < 2:
            for port in (pro_port, safety_port):
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        healthy.add(port)
                except httpx.HTTPError:
                    pass
            time.sleep(0.25)
        assert healthy == {pro_port, safety_port}, "both /healthz should answer within a minute"
        site = httpx.get(f"http://127.0.0.1:{safety_port}/v1/sites/101", timeout=5)
        assert site.status_code == 401  # seeded and protected
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=40)
    assert process.returncode == 0, output
    assert "staff token (site 101" in output
    token = output.split("staff token (site 101, 12 h):", 1)[1].split()[0]
    assert (tmp_path / "var" / "pro_api.sqlite3").exists()
    assert (tmp_path / "var" / "safety_api.sqlite3").exists()
    # The printed staff token is accepted by the services it was minted for.
    from services.common.auth import Role, TokenService
    from services.common.settings import Settings

    principal = TokenService.from_settings(Settings(data_dir=tmp_path / "var")).verify(
        token, "safety_api"
    )
    assert principal.role is Role.SITE_STAFF and principal.site == "101"


def test_captem_token_mints_a_token_for_the_requested_role(tmp_path) -> None:
    env = {**os.environ, "CAPTEM_DATA_DIR": str(tmp_path), "CAPTEM_JWT_SECRET": "s" * 40}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.common.cli",
            "token",
            "--role",
            "patient",
            "--site",
            "101",
            "--patient",
            "p-1",
            "--aud",
            "pro_api",
            "--ttl",
            "60",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    from services.common.auth import TokenService

    service = TokenService(issuer="captem", secret="s" * 40, public_keys={})
    principal = service.verify(result.stdout.strip(), "pro_api")
    assert principal.pid == "p-1" and principal.site == "101"


def test_settle_heap_hides_the_long_lived_objects_from_the_collector() -> None:
    """`captem serve` freezes what is alive once the app is built, so full collections do not
    walk it on every request that triggers one (the staff pages' p99 at 100x, bench/scale)."""
    import gc

    from services.common.app import settle_heap

    assert gc.get_freeze_count() == 0
    try:
        settle_heap()
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
