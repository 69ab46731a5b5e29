"""Request and response bodies of patient sign-in."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ActivateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    activation_code: str = Field(
        min_length=1,
        max_length=64,
        description="The code the study team gave you, e.g. `7KQ2M-X9D4B`; any case, dashes "
        "and spaces optional.",
    )


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=200)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str = Field(
        description="Single use: each refresh returns a new one. Presenting a used one again "
        "signs the phone out."
    )
    expires_in: int = Field(description="Seconds until the access token expires.")
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (the OAuth token type)
