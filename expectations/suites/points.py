"""The points marts (models/gold/points/): docs/points.md as GX rules.

Columns, types, grain and not-null constraints come from the dbt contract (see `base.py`);
here are the rules beyond it: row rules and the reconciliations of each coarser mart with the
finer one (task and user-game with user-task, game with user-game). Decisions where the docs
leave room are stated in each builder's docstring.
"""

from __future__ import annotations

from expectations.checks import BATCH, Rule, at_least, holds
from expectations.suites.base import Builder


def _gap_rules(table: str) -> list[Rule]:
    return [
        holds(
            f"{table}_avg_sentinel",
            "avg_seconds_between_awards = -1 exactly where awards < 2",
            "(avg_seconds_between_awards = -1) = (awards < 2)",
        ),
        holds(
            f"{table}_avg_non_negative",
            "avg_seconds_between_awards >= 0 where awards >= 2",
            "awards < 2 or avg_seconds_between_awards >= 0",
        ),
    ]


def fct_points_user_task(b: Builder) -> None:
    """Per player and task: awards, points, first/last award, mean gap, last window.

    Decisions: the mean of the gaps between consecutive awards telescopes to (last_award_at -
    first_award_at) / (awards - 1), checked within a microsecond; the sentinel -1 holds exactly
    where awards < 2. last_window_seconds is 0 where awards < 2 (not "exactly where": two
    awards at the same instant have a gap of 0) and otherwise lies in [0, last - first]."""
    span = "extract(epoch from last_award_at - first_award_at)"
    b.add(
        at_least("awards", 1, "awards >= 1 (a row exists only for awards)"),
        holds(
            "first_le_last", "first_award_at <= last_award_at", "first_award_at <= last_award_at"
        ),
        holds(
            "single_award_first_is_last",
            "first_award_at = last_award_at where awards = 1",
            "awards <> 1 or first_award_at = last_award_at",
        ),
        _gap_rules("user_task"),
        holds(
            "avg_is_span_over_gaps",
            "avg_seconds_between_awards = (last_award_at - first_award_at) / (awards - 1)",
            f"awards < 2 or abs(avg_seconds_between_awards - {span} / nullif(awards - 1, 0)) "
            "<= 1e-6",
        ),
        holds(
            "last_window_sentinel",
            "last_window_seconds = 0 where awards < 2",
            "awards >= 2 or last_window_seconds = 0",
        ),
        holds(
            "last_window_within_span",
            "0 <= last_window_seconds <= last_award_at - first_award_at",
            f"last_window_seconds >= 0 and last_window_seconds <= {span} + 1e-6",
        ),
    )


def fct_points_task(b: Builder) -> None:
    """Per task, all players: awards, players, points, mean gap of the merged timeline.

    Decisions: players <= awards. When fct_points_user_task is in the same schema, the task row
    reconciles with it: same tasks; awards, players and points are its sums and count; the
    mean gap of the merged timeline is (latest award - earliest award) / (awards - 1)."""
    b.add(
        at_least("awards", 1, "awards >= 1 (a row exists only for awards)"),
        at_least("players", 1),
        holds("players_le_awards", "players <= awards", "players <= awards"),
        _gap_rules("task"),
    )
    per_user = b.table.sibling("fct_points_user_task")
    if per_user:
        rules = [
            Rule(
                "task_awards_match_user_task",
                "awards = the sum of fct_points_user_task.awards of the task (same tasks)",
            ),
            Rule(
                "task_players_match_user_task",
                "players = the number of fct_points_user_task rows of the task",
            ),
            Rule(
                "task_points_match_user_task",
                "total_points = the sum of fct_points_user_task.total_points of the task",
            ),
            Rule(
                "task_avg_matches_timeline",
                "avg_seconds_between_awards = (latest "
                "last_award_at - earliest first_award_at) / (awards - 1)",
            ),
        ]
        b.check(
            "reconcile_user_task",
            "fct_points_task reconciles with fct_points_user_task",
            rules,
            f"""
with both_marts as (
    select brand_id, game_id, task_id,
        max(task_awards) as awards, max(user_awards) as user_awards,
        max(task_players) as players, max(user_rows) as user_rows,
        max(task_points) as total_points, max(user_points) as user_points,
        max(task_avg) as avg_seconds_between_awards,
        max(user_span) / nullif(max(task_awards) - 1, 0) as timeline_avg
    from (
        select brand_id, game_id, task_id, awards as task_awards, null::numeric as user_awards,
            players as task_players, null::numeric as user_rows,
            total_points as task_points, null::numeric as user_points,
            avg_seconds_between_awards as task_avg, null::numeric as user_span
        from {BATCH}
        union all
        select brand_id, game_id, task_id, null, sum(awards), null, count(*),
            null, sum(total_points), null,
            extract(epoch from max(last_award_at) - min(first_award_at))
        from {per_user}
        group by brand_id, game_id, task_id
    ) as unioned
    group by brand_id, game_id, task_id
)
select 'task_awards_match_user_task' as failed_rule, * from both_marts
where awards is distinct from user_awards
union all
select 'task_players_match_user_task', * from both_marts
where players is distinct from user_rows
union all
select 'task_points_match_user_task', * from both_marts
where total_points is distinct from user_points
union all
select 'task_avg_matches_timeline', * from both_marts
where awards >= 2 and abs(avg_seconds_between_awards - timeline_avg) > 1e-6""",
        )


def _avg_minutes_rule() -> Rule:
    return holds(
        "avg_minutes_positive",
        "avg_minutes is NULL or > 0 (a mean of non-zero minutes, minutes >= 0)",
        "avg_minutes > 0",
    )


def fct_points_user_game(b: Builder) -> None:
    """Per player and game: awards, points, mean non-zero minutes.

    Decisions: avg_minutes is a mean of non-zero minutes, which are >= 0, so it is NULL or > 0.
    When fct_points_user_task is in the same schema, awards and points are the sums over the
    player's tasks of the game (same players and games)."""
    b.add(
        at_least("awards", 1, "awards >= 1 (a row exists only for awards)"),
        _avg_minutes_rule(),
    )
    per_task = b.table.sibling("fct_points_user_task")
    if per_task:
        rules = [
            Rule(
                "user_game_awards_match_user_task",
                "awards = the sum of "
                "fct_points_user_task.awards over the player's tasks of the game",
            ),
            Rule(
                "user_game_points_match_user_task",
                "total_points = the sum of "
                "fct_points_user_task.total_points over the player's tasks of the game",
            ),
        ]
        b.check(
            "reconcile_user_task",
            "fct_points_user_game reconciles with fct_points_user_task",
            rules,
            f"""
with both_marts as (
    select brand_id, game_id, player_id,
        max(game_awards) as awards, max(task_awards) as user_task_awards,
        max(game_points) as total_points, max(task_points) as user_task_points
    from (
        select brand_id, game_id, player_id, awards as game_awards,
            null::numeric as task_awards, total_points as game_points,
            null::numeric as task_points
        from {BATCH}
        union all
        select brand_id, game_id, player_id, null, sum(awards), null, sum(total_points)
        from {per_task}
        group by brand_id, game_id, player_id
    ) as unioned
    group by brand_id, game_id, player_id
)
select 'user_game_awards_match_user_task' as failed_rule, * from both_marts
where awards is distinct from user_task_awards
union all
select 'user_game_points_match_user_task', * from both_marts
where total_points is distinct from user_task_points""",
        )


def fct_points_game(b: Builder) -> None:
    """Per game, all players: awards, players, points, mean non-zero minutes.

    Decisions: players <= awards; avg_minutes NULL or > 0. When fct_points_user_game is in the
    same schema: same games; awards, players, points are its sums and count; the game's mean
    lies between the smallest and the largest of its players' means (a weighted mean of them),
    and is NULL exactly where all of them are."""
    b.add(
        at_least("awards", 1, "awards >= 1 (a row exists only for awards)"),
        at_least("players", 1),
        holds("players_le_awards", "players <= awards", "players <= awards"),
        _avg_minutes_rule(),
    )
    per_user = b.table.sibling("fct_points_user_game")
    if per_user:
        rules = [
            Rule(
                "game_awards_match_user_game",
                "awards = the sum of fct_points_user_game.awards of the game (same games)",
            ),
            Rule(
                "game_players_match_user_game",
                "players = the number of fct_points_user_game rows of the game",
            ),
            Rule(
                "game_points_match_user_game",
                "total_points = the sum of fct_points_user_game.total_points of the game",
            ),
            Rule(
                "game_avg_within_player_avgs",
                "avg_minutes lies between the players' "
                "smallest and largest avg_minutes, NULL exactly where all of theirs are",
            ),
        ]
        b.check(
            "reconcile_user_game",
            "fct_points_game reconciles with fct_points_user_game",
            rules,
            f"""
with both_marts as (
    select brand_id, game_id,
        max(game_awards) as awards, max(user_awards) as user_awards,
        max(game_players) as players, max(user_rows) as user_rows,
        max(game_points) as total_points, max(user_points) as user_points,
        max(game_avg) as avg_minutes, min(user_min_avg) as user_min_avg,
        max(user_max_avg) as user_max_avg
    from (
        select brand_id, game_id, awards as game_awards, null::numeric as user_awards,
            players as game_players, null::numeric as user_rows,
            total_points as game_points, null::numeric as user_points,
            avg_minutes as game_avg, null::numeric as user_min_avg,
            null::numeric as user_max_avg
        from {BATCH}
        union all
        select brand_id, game_id, null, sum(awards), null, count(*), null, sum(total_points),
            null, min(avg_minutes), max(avg_minutes)
        from {per_user}
        group by brand_id, game_id
    ) as unioned
    group by brand_id, game_id
)
select 'game_awards_match_user_game' as failed_rule, * from both_marts
where awards is distinct from user_awards
union all
select 'game_players_match_user_game', * from both_marts
where players is distinct from user_rows
union all
select 'game_points_match_user_game', * from both_marts
where total_points is distinct from user_points
union all
select 'game_avg_within_player_avgs', * from both_marts
where (avg_minutes is null) <> (user_max_avg is null)
    or avg_minutes < user_min_avg - 1e-9 or avg_minutes > user_max_avg + 1e-9""",
        )


BUILDERS = (fct_points_user_task, fct_points_task, fct_points_user_game, fct_points_game)
