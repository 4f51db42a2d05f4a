"""/v1/game: the game server's `/metrics` and its last-30-days summary."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request, Response

from api.auth import ClientId
from api.context import Scoped
from api.http import MAX_AGE, respond
from api.queries import game as queries
from api.routes.common import check_brands, ctx_of

router = APIRouter(prefix="/v1/game", tags=["game"])


@router.get("/metrics")
def metrics(
    request: Request, client: ClientId, day: dt.date | None = None, brand: str | None = None
) -> Response:
    """The day's counters (default: today, UTC), its dau, the month's mau (distinct active
    players from the 1st to the day) and the month's mean session in whole minutes."""
    when = day or dt.datetime.now(dt.UTC).date()
    ctx = ctx_of(request)

    def answer(scoped: Scoped) -> dict[str, Any]:
        check_brands(scoped, {"brand_id": brand} if brand else {})
        return queries.metrics(scoped, when, brand)

    return respond(request, ctx.read(client, answer), max_age=MAX_AGE["5m"], rows=1)


@router.get("/metrics/last-30-days")
def last_30_days(
    request: Request, client: ClientId, day: dt.date | None = None, brand: str | None = None
) -> Response:
    """The 30 most recent days with counters up to `day` (default today), newest first."""
    when = day or dt.datetime.now(dt.UTC).date()
    ctx = ctx_of(request)

    def answer(scoped: Scoped) -> list[dict[str, Any]]:
        check_brands(scoped, {"brand_id": brand} if brand else {})
        return queries.last_30_days(scoped, when, brand)

    rows = ctx.read(client, answer)
    return respond(request, {"days": rows}, max_age=MAX_AGE["5m"], rows=len(rows))
