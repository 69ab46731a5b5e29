from __future__ import annotations

import pytest

from services.common.settings import InsecureConfiguration, Settings, normalise_database_url

PG = "postgresql://u@db/x"


def test_production_refuses_a_missing_secret() -> None:
    with pytest.raises(InsecureConfiguration, match="refusing to start"):
        Settings(env="production", pro_database_url=PG, safety_database_url=PG)


def test_production_refuses_a_generated_development_secret() -> None:
    with pytest.raises(InsecureConfiguration):
        Settings(
            env="production",
            jwt_secret="dev-" + "a" * 60,
            pro_database_url=PG,
            safety_database_url=PG,
        )


def test_production_refuses_a_short_secret() -> None:
    with pytest.raises(InsecureConfiguration):
        Settings(env="production", jwt_secret="short", pro_database_url=PG, safety_database_url=PG)


def test_production_refuses_the_embedded_sqlite_default() -> None:
    with pytest.raises(InsecureConfiguration, match="PostgreSQL"):
        Settings(env="production", jwt_secret="r" * 48)


def test_production_accepts_a_strong_secret_and_postgres() -> None:
    settings = Settings(
        env="production", jwt_secret="r" * 48, pro_database_url=PG, safety_database_url=PG
    )
    assert settings.database_url("pro_api") == "postgresql+asyncpg://u@db/x"


def test_development_generates_a_secret_once_and_keeps_it(tmp_path) -> None:
    first = Settings(data_dir=tmp_path).signing_secret
    second = Settings(data_dir=tmp_path).signing_secret
    assert first == second and first is not None and len(first) > 40
    assert (tmp_path / "jwt-dev-secret").stat().st_mode & 0o777 == 0o600


def test_embedded_default_is_sqlite_under_the_data_dir(tmp_path) -> None:
    url = Settings(data_dir=tmp_path).database_url("safety_api")
    assert url == f"sqlite+aiosqlite:///{tmp_path}/safety_api.sqlite3"


def test_plain_urls_get_async_drivers() -> None:
    assert normalise_database_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert normalise_database_url("postgres://a@b/c") == "postgresql+asyncpg://a@b/c"
