"""/v1/points: the points-analytics service's methods (docs/points.md, docs/api.md).

Ids of players, games and tasks are per brand: `brand` names the brand, and may be left out
by a client of one brand. `at` (default: now) is the instant the windows are measured from.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from api import params
from api.auth import ClientId
from api.context import Scoped
from api.errors import bad_request
from api.http import MAX_AGE, NO_CACHE, respond
from api.queries import points as queries
from api.routes.common import ctx_of, one_brand

router = APIRouter(prefix="/v1/points", tags=["points"])
MAX_WINDOW = 366 * 86400


def _at(value: str | None) -> dt.datetime:
    return params.instant("at", value) if value else dt.datetime.now(dt.UTC)


@router.get("/games/{game}/tasks/{task}/players/{player}")
def player_task(
    request: Request,
    client: ClientId,
    game: str,
    task: str,
    player: str,
    brand: str | None = None,
    seconds: Annotated[int | None, Query(ge=1, le=MAX_WINDOW)] = None,
    minutes: Annotated[int | None, Query(ge=1, le=MAX_WINDOW // 60)] = None,
    at: str | None = None,
) -> Response:
    """A player on a task: awards, total points, the mean gap (-1 with fewer than two
    awards), the last window (0 with fewer than two), seconds since the last award, the award
    times; `awards_last_seconds` for `seconds=N`, `has_award_last_minutes` for `minutes=M`."""
    when = _at(at)
    ctx = ctx_of(request)

    def answer(scoped: Scoped) -> dict[str, Any]:
        chosen = one_brand(scoped, brand)
        return queries.player_task(scoped, chosen, game, task, player, when, seconds, minutes)

    result = ctx.read(client, answer)
    return respond(request, result, max_age=NO_CACHE, rows=1)


@router.get("/games/{game}/tasks/{task}")
def task(
    request: Request, client: ClientId, game: str, task: str, brand: str | None = None
) -> Response:
    """A task, all players of the brand: awards, players, total points, the mean gap of the
    merged timeline (-1 with fewer than two awards)."""
    ctx = ctx_of(request)

    def answer(scoped: Scoped) -> dict[str, Any]:
        return queries.task(scoped, one_brand(scoped, brand), game, task)

    return respond(request, ctx.read(client, answer), max_age=MAX_AGE["5m"], rows=1)


@router.get("/games/{game}")
def game(
    request: Request,
    client: ClientId,
    game: str,
    brand: str | None = None,
    player: str | None = None,
) -> Response:
    """A game, all players: awards, players, total points, mean minutes (null without
    non-zero minutes); with `player`, the player's awards, points and mean minutes."""
    if player is not None and not player.strip():
        raise bad_request("player is empty")
    ctx = ctx_of(request)

    def answer(scoped: Scoped) -> dict[str, Any]:
        return queries.game(scoped, one_brand(scoped, brand), game, player)

    return respond(request, ctx.read(client, answer), max_age=MAX_AGE["5m"], rows=1)
