"""Ordered funnels over silver's events (the `api.events` view, brand-filtered by scope).

Per player (brand, player): the player enters at their first step-1 event in [from, to)
(ties by event id); step k is reached when an event of step k occurs at or after the event
used for step k-1 and at most `window_sec` after the entering event (both ends inclusive);
the event used is the earliest such one (ties by event id), and an event serves one step
only (a funnel may repeat an event type). Each player counts once: a second entry, and the
repeated events of a step, change nothing. `rate` is over `total`, the players who entered.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from api.context import Scoped
from api.errors import bad_request
from ingestion.catalog import CATALOG

MAX_STEPS = 8
MAX_WINDOW_SECONDS = 30 * 86400
MAX_RANGE = dt.timedelta(days=93)
ENVELOPE_FILTERS = ("brand_id", "region")


@dataclass(frozen=True)
class Step:
    event: str
    payload: tuple[tuple[str, str], ...]  # (field, value as JSON text), equality

    @property
    def name(self) -> str:
        if not self.payload:
            return self.event
        return f"{self.event}[{','.join(f'{k}={v}' for k, v in self.payload)}]"


def _text(value: Any) -> str:
    """A payload value as `payload ->> field` shows it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise bad_request("step filters compare a payload field with a string, number or boolean")


def parse_steps(raw: list[dict[str, Any]]) -> list[Step]:
    if not 2 <= len(raw) <= MAX_STEPS:
        raise bad_request(f"a funnel has 2 to {MAX_STEPS} steps")
    steps = []
    for i, item in enumerate(raw, 1):
        event = item.get("event")
        if not isinstance(event, str) or event not in CATALOG:
            raise bad_request(
                f"step {i}: event must be an event type of the catalog, not {event!r}"
            )
        fields = {f.rstrip("?") for f in CATALOG[event]}
        payload = []
        for key, value in sorted(item.items()):
            if key == "event":
                continue
            if key not in fields:
                raise bad_request(
                    f"step {i}: {event} has no payload field {key} "
                    f"(fields: {', '.join(sorted(fields)) or 'none'})"
                )
            payload.append((key, _text(value)))
        steps.append(Step(event, tuple(payload)))
    return steps


def funnel(
    scoped: Scoped,
    steps: list[Step],
    window_sec: int,
    lower: dt.datetime,
    upper: dt.datetime,
    filters: dict[str, str],
) -> list[int]:
    """The number of players who reached each step."""
    # Plan (why it is fast): the entries are read first, from the step-1 events of [from, to).
    # The later steps' events are then kept only where they can serve an entered player (same
    # player, inside [entered, entered + window]: a step's event is never before the entry nor
    # after the window), so few rows are materialized. Types no later step filters by payload
    # are read without it (no payload to detoast); types with a payload filter are read with
    # it, and only their rows that match some step's filter are kept.
    later = steps[1:]
    with_payload = sorted({s.event for s in later if s.payload})
    plain = sorted({s.event for s in later} - set(with_payload))
    params: dict[str, Any] = {
        "e1": steps[0].event,
        "plain": plain,
        "with_payload": with_payload,
        "lower": lower,
        "upper": upper,
        "window": dt.timedelta(seconds=window_sec),
    }

    def conditions(k: int, step: Step) -> list[sql.Composable]:
        params[f"e{k}"] = step.event
        found: list[sql.Composable] = [
            sql.SQL("e.event_type = {}").format(sql.Placeholder(f"e{k}"))
        ]
        for j, (field, value) in enumerate(step.payload):
            found.append(
                sql.SQL("e.payload ->> {} = {}").format(
                    sql.Literal(field), sql.Placeholder(f"v{k}_{j}")
                )
            )
            params[f"v{k}_{j}"] = value
        return found

    envelope = sql.SQL("").join(
        sql.SQL(" and e.{} = {}").format(sql.Identifier(key), sql.Placeholder(f"f_{key}"))
        for key in sorted(filters)
    )
    params.update({f"f_{key}": value for key, value in filters.items()})
    full_flags, plain_flags, any_full = [], [], []
    for k, step in enumerate(later, 2):
        found = sql.SQL(" and ").join(conditions(k, step))
        full_flags.append(sql.SQL("({}) as s{}").format(found, k))
        any_full.append(sql.SQL("({})").format(found))
        plain_flags.append(
            sql.SQL("false as s{}").format(k)
            if step.event in with_payload
            else sql.SQL("({}) as s{}").format(conditions(k, step)[0], k)
        )
    scan = (
        "select e.brand_id, e.player_id, e.occurred_at, e.event_id, {} "
        "from step1 p join api.events e on e.brand_id = p.brand_id "
        "and e.player_id = p.player_id and e.occurred_at >= p.entered "
        "and e.occurred_at <= p.entered + %(window)s "
        "where e.event_type = any({}) and e.occurred_at >= %(lower)s "
        "and e.occurred_at <= %(upper)s::timestamptz + %(window)s{}{}"
    )
    parts = [
        sql.SQL(
            "step1 as materialized (select distinct on (e.brand_id, e.player_id) e.brand_id, "
            "e.player_id, e.occurred_at as entered, e.occurred_at as at, "
            "array[e.event_id] as used from api.events e where {} "
            "and e.occurred_at >= %(lower)s and e.occurred_at < %(upper)s{} "
            "order by e.brand_id, e.player_id, e.occurred_at, e.event_id)"
        ).format(sql.SQL(" and ").join(conditions(1, steps[0])), envelope),
        sql.SQL("candidates as materialized ({} union all {})").format(
            sql.SQL(scan).format(
                sql.SQL(", ").join(plain_flags), sql.Placeholder("plain"), envelope, sql.SQL("")
            ),
            sql.SQL(scan).format(
                sql.SQL(", ").join(full_flags),
                sql.Placeholder("with_payload"),
                envelope,
                sql.SQL(" and ({})").format(sql.SQL(" or ").join(any_full)),
            ),
        ),
    ]
    for k in range(2, len(steps) + 1):
        parts.append(
            sql.SQL(
                "step{k} as (select distinct on (p.brand_id, p.player_id) p.brand_id, "
                "p.player_id, p.entered, c.occurred_at as at, p.used || c.event_id as used "
                "from step{prev} p join candidates c on c.brand_id = p.brand_id "
                "and c.player_id = p.player_id and c.s{k} and c.occurred_at >= p.at "
                "and c.occurred_at <= p.entered + %(window)s and c.event_id <> all(p.used) "
                "order by p.brand_id, p.player_id, c.occurred_at, c.event_id)"
            ).format(k=sql.SQL(str(k)), prev=sql.SQL(str(k - 1)))
        )
    counts = sql.SQL(", ").join(
        sql.SQL("(select count(*) from step{})").format(sql.SQL(str(k)))
        for k in range(1, len(steps) + 1)
    )
    query = sql.SQL("with {} select {}").format(sql.SQL(", ").join(parts), counts)
    # The entries' count is underestimated (distinct players of a month), which makes a merge
    # join on text keys look cheap; the hash joins are several times faster at every size.
    scoped.conn.execute("set local enable_mergejoin = off")
    row = scoped.fetch(query, params)[0]
    return [int(n) for n in row]
