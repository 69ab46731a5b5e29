"""Responses stored for replay are encoded exactly as FastAPI's ``jsonable_encoder`` would."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from decimal import Decimal

from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel

from services.common.idempotency import to_jsonable


class Colour(enum.StrEnum):
    RED = "red"


class Item(BaseModel):
    at: dt.datetime
    amount: Decimal


def test_to_jsonable_matches_jsonable_encoder_on_every_kind_of_value() -> None:
    moment = dt.datetime(2026, 3, 8, 7, 30, tzinfo=dt.UTC)
    payload = {
        "text": "Hy's law: ALT ≥ 3 ULN",
        "count": 3,
        "ratio": 1.5,
        "flag": True,
        "nothing": None,
        "when": moment,
        "day": dt.date(2026, 3, 8),
        "value": Decimal("1.80"),
        "id": uuid.UUID(int=7),
        "colour": Colour.RED,
        "model": Item(at=moment, amount=Decimal("2")),
        "nested": [{"x_uln": Decimal("3.0"), "tuple": (1, "a")}, [None, moment]],
        5: "an int key",
    }
    assert to_jsonable(payload) == jsonable_encoder(payload)
