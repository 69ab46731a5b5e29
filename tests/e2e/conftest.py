"""End-to-end fixtures: both services as real uvicorn processes on free ports with temporary
SQLite databases (``captem run``), and Playwright driving the Debian Chromium headless at a
390x844 phone viewport.

Without Chromium (or the playwright package) the e2e tests skip with a message saying what to
install; with ``CI=true`` they fail instead, so CI can never pass without running them
(``.ci/run`` installs Chromium). axe-core is vendored in ``vendor/`` (see vendor/README.md) and
evaluated inside each page; screenshots and axe reports go to ``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.auth import TokenService
from tests.support.receiver import _free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CAPTEM_E2E_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "test-artifacts"
AXE_JS = Path(__file__).parent / "vendor" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SECRET = "e2e-secret-" + "x" * 40


def unavailable(reason: str) -> None:
    """Skip locally, fail in CI: the browser tests must never silently not run there."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


@dataclass
class Servers:
    pro: str
    safety: str
    tokens: TokenService = field(
        default_factory=lambda: TokenService(issuer="captem", secret=SECRET, public_keys={})
    )

    def headers(self, role: str, *, aud: str, site: str | None = None, **claims: Any) -> dict:
        token = self.tokens.mint(role=role, sub=f"e2e-{role}", audience=aud, site=site, **claims)
        return {"Authorization": f"Bearer {token}"}

    def staff_token(self, site: str) -> str:
        return self.tokens.mint(
            role="site_staff", sub="e2e-nurse", audience="safety_api", site=site
        )


def _wait_healthy(urls: list[str], process: subprocess.Popen[str], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    pending = set(urls)
    while pending and time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"captem run exited early:\n{process.stdout.read() if process.stdout else ''}"
            )
        for url in list(pending):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    pending.discard(url)
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    if pending:
        raise RuntimeError(f"services did not become healthy: {sorted(pending)}")


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    pro_port, safety_port = _free_port(), _free_port()
    data_dir = tmp_path_factory.mktemp("e2e-var")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAPTEM_")}
    env.update(
        CAPTEM_DATA_DIR=str(data_dir),
        CAPTEM_JWT_SECRET=SECRET,
        CAPTEM_OUTBOX_POLL_INTERVAL_S="0.2",
        CAPTEM_LOG_LEVEL="WARNING",
    )
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
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    urls = Servers(pro=f"http://127.0.0.1:{pro_port}", safety=f"http://127.0.0.1:{safety_port}")
    try:
        _wait_healthy([urls.pro, urls.safety], process)
        yield urls
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        unavailable(
            f"no Chromium at {CHROMIUM}: install it (Debian: apt-get install chromium) or set "
            "CAPTEM_E2E_CHROMIUM; the browser tests were skipped"
        )
    return CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium_path: Path) -> AsyncIterator[Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        unavailable("the playwright package is missing: pip install -e '.[dev]'")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(chromium_path), args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


class PhonePage:
    """A Playwright page at phone size that records CSP violations and page errors."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))

    def _console(self, message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text or (message.type == "error" and "Refused" in text):
            self.problems.append(text)

    async def screenshot(self, name: str) -> None:
        """What the phone's screen shows, and the whole page scrolled (``-full``)."""
        folder = ARTIFACTS / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=folder / f"{name}.png")
        await self.page.screenshot(path=folder / f"{name}-full.png", full_page=True)

    async def audit(self, name: str) -> list[dict[str, Any]]:
        """axe-core inside the page; serious or critical violations fail the test. The script
        is evaluated through the DevTools protocol, so the page's CSP stays fully on."""
        if not await self.page.evaluate("typeof window.axe !== 'undefined'"):
            await self.page.evaluate(AXE_JS.read_text())
        violations: list[dict[str, Any]] = await self.page.evaluate(
            """async () => {
                const result = await axe.run(document, {
                    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',
                                                    'wcag22aa', 'best-practice']},
                    resultTypes: ['violations'],
                });
                return result.violations.map(v => ({
                    id: v.id, impact: v.impact, help: v.help,
                    nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ')),
                }));
            }"""
        )
        (ARTIFACTS / "axe").mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "axe" / f"{name}.json").write_text(json.dumps(violations, indent=2))
        serious = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert not serious, f"axe on {name}: {json.dumps(serious, indent=2)}"
        return violations

    async def page_check(self, name: str) -> None:
        await self.screenshot(name)
        await self.audit(name)
        assert not self.problems, self.problems


@pytest.fixture
async def phone(browser: Any) -> AsyncIterator[PhonePage]:
    """A fresh phone (its own storage). Service workers are blocked so that request
    interception sees every request; the one test about the service worker opens its own."""
    context = await new_phone_context(browser, service_workers="block")
    try:
        yield PhonePage(await context.new_page())
    finally:
        await context.close()


async def new_phone_context(browser: Any, *, service_workers: str) -> Any:
    context = await browser.new_context(
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        service_workers=service_workers,
        locale="en-US",
    )
    context.set_default_timeout(10_000)
    return context


def expect(target: Any) -> Any:
    """Playwright's auto-waiting assertions (imported late: the package may be missing)."""
    from playwright.async_api import expect as playwright_expect

    return playwright_expect(target)


def unique(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:8]
