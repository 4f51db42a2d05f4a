"""The points-analytics service's twelve questions (docs/points.md), over gold's four points
marts and, for the windows relative to "now", silver's awards (the `api.points_awards` view).

Sentinels as the marts have them: the mean gap is -1 with fewer than two awards, the last
window 0. A player, task or game without awards answers 0 awards with those sentinels.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from api.context import Scoped
from warehouse import schemas


def player_task(
    scoped: Scoped,
    brand: str,
    game: str,
    task: str,
    player: str,
    at: dt.datetime,
    seconds: int | None,
    minutes: int | None,
) -> dict[str, Any]:
    # the mart's row and the award timeline, sent together (one round trip)
    with scoped.conn.pipeline():
        mart = scoped.conn.execute(
            "select awards, total_points, first_award_at, last_award_at, "
            "avg_seconds_between_awards, last_window_seconds "
            f"from {schemas.GOLD}.fct_points_user_task "
            "where brand_id = %s and game_id = %s and task_id = %s and player_id = %s",
            [brand, game, task, player],
        )
        # the windows: awards in (at - N, at]
        timeline = scoped.conn.execute(
            "select coalesce(array_agg(awarded_at order by awarded_at, event_id), '{}'), "
            "count(*) filter (where awarded_at > %(at)s - make_interval(secs => %(s)s)), "
            "coalesce(bool_or(awarded_at > %(at)s - make_interval(mins => %(m)s)), false) "
            "from api.points_awards where brand_id = %(b)s and game_id = %(g)s "
            "and task_id = %(t)s and player_id = %(p)s and awarded_at <= %(at)s",
            {
                "b": brand,
                "g": game,
                "t": task,
                "p": player,
                "at": at,
                "s": seconds or 0,
                "m": minutes or 0,
            },
        )
    row = mart.fetchone()
    awards, total, first, last, avg_gap, last_window = row or (0, 0, None, None, -1.0, 0.0)
    times, in_seconds, in_minutes = timeline.fetchone()  # type: ignore[misc]
    answer: dict[str, Any] = {
        "brand_id": brand,
        "game_id": game,
        "task_id": task,
        "player_id": player,
        "at": at,
        "awards": int(awards),
        "total_points": int(total),
        "first_award_at": first,
        "last_award_at": last,
        "avg_seconds_between_awards": avg_gap,
        "last_window_seconds": last_window,
        # the last award at or before `at` (with `at` now: the mart's last_award_at)
        "seconds_since_last_award": (at - times[-1]).total_seconds() if times else None,
        "award_times": list(times),
    }
    if seconds is not None:
        answer["awards_last_seconds"] = int(in_seconds)
    if minutes is not None:
        answer["has_award_last_minutes"] = bool(in_minutes)
    return answer


def task(scoped: Scoped, brand: str, game: str, task_id: str) -> dict[str, Any]:
    row = scoped.fetch(
        "select awards, players, total_points, avg_seconds_between_awards "
        f"from {schemas.GOLD}.fct_points_task where brand_id = %s and game_id = %s "
        "and task_id = %s",
        [brand, game, task_id],
    )
    awards, players, total, avg_gap = row[0] if row else (0, 0, 0, -1.0)
    return {
        "brand_id": brand,
        "game_id": game,
        "task_id": task_id,
        "awards": int(awards),
        "players": int(players),
        "total_points": int(total),
        "avg_seconds_between_awards": avg_gap,
    }


def game(scoped: Scoped, brand: str, game_id: str, player: str | None) -> dict[str, Any]:
    row = scoped.fetch(
        "select awards, players, total_points, avg_minutes "
        f"from {schemas.GOLD}.fct_points_game where brand_id = %s and game_id = %s",
        [brand, game_id],
    )
    awards, players, total, avg_minutes = row[0] if row else (0, 0, 0, None)
    answer: dict[str, Any] = {
        "brand_id": brand,
        "game_id": game_id,
        "awards": int(awards),
        "players": int(players),
        "total_points": int(total),
        "avg_minutes": avg_minutes,
    }
    if player is not None:
        mine = scoped.fetch(
            "select awards, total_points, avg_minutes "
            f"from {schemas.GOLD}.fct_points_user_game "
            "where brand_id = %s and game_id = %s and player_id = %s",
            [brand, game_id, player],
        )
        p_awards, p_total, p_avg = mine[0] if mine else (0, 0, None)
        answer["player"] = {
            "player_id": player,
            "awards": int(p_awards),
            "total_points": int(p_total),
            "avg_minutes": p_avg,
        }
    return answer
