from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.common.settings import Settings
from tests.security.world import two_sites


@pytest.fixture(scope="module")
async def trial(settings: Settings) -> AsyncIterator[dict[str, Any]]:
    """Both services running, with sites A and B seeded (see ``world.py``)."""
    async with two_sites(settings) as seeded:
        yield seeded
