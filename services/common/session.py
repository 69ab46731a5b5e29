"""The request-scoped database session: commit on success, roll back on error.

``scope="function"`` makes FastAPI run the commit right after the handler returns and before the
response is sent, so a client never sees a success for data that failed to commit.
Callbacks registered with :func:`on_rollback` run after a rollback, outside the failed transaction.
A commit that enqueued outbox messages wakes this process's dispatcher at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import Database


def on_rollback(request: Request, callback: Callable[[], Awaitable[None]]) -> None:
    request.state.on_rollback = [*getattr(request.state, "on_rollback", []), callback]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    db: Database = request.app.state.db
    session = db.sessionmaker()
    try:
        yield session
        await session.commit()
    except BaseException:
        await session.rollback()
        for callback in getattr(request.state, "on_rollback", []):
            await callback()
        raise
    finally:
        await session.close()
    dispatcher = request.app.state.dispatcher
    if session.info.get("outbox_enqueued") and dispatcher is not None:
        dispatcher.wake()


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
