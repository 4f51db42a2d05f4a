"""Parsing and checking request parameters: time ranges, filters, dimensions, limits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from api.errors import bad_request


def instant(name: str, value: str | None) -> dt.datetime:
    """An ISO 8601 date or timestamp (UTC when it has no offset)."""
    if not value:
        raise bad_request(f"{name} is required (an ISO 8601 date or timestamp)")
    text = value.strip()
    date_part, sep, time_part = text.partition("T")
    if sep and " " in time_part:  # an unencoded '+' of an offset arrives as a space
        text = f"{date_part}T{time_part.replace(' ', '+')}"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise bad_request(f"{name} is not an ISO 8601 date or timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def day(name: str, value: str | None) -> dt.date:
    if not value:
        raise bad_request(f"{name} is required (YYYY-MM-DD)")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise bad_request(f"{name} is not a date (YYYY-MM-DD): {value!r}") from None


def time_range(start: str | None, end: str | None) -> tuple[dt.datetime, dt.datetime]:
    lower, upper = instant("from", start), instant("to", end)
    if upper <= lower:
        raise bad_request("to must be after from (the range is [from, to))")
    return lower, upper


def filters(text: str | None, allowed: Iterable[str], what: str) -> dict[str, str]:
    """`k:v,k:v` -> {k: v}; every key among `allowed` and given once."""
    allowed = tuple(allowed)
    result: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise bad_request(f"filters are key:value pairs separated by commas: {item!r}")
        if key not in allowed:
            raise bad_request(f"{what} can be filtered on {', '.join(allowed)}, not {key}")
        if key in result:
            raise bad_request(f"filter {key} is given twice")
        result[key] = value
    return result


def dimensions(text: str | None, allowed: Iterable[str], what: str) -> list[str]:
    allowed = tuple(allowed)
    result: list[str] = []
    for name in (text or "").split(","):
        name = name.strip()
        if not name:
            continue
        if name not in allowed:
            raise bad_request(f"{what} can be grouped by {', '.join(allowed)}, not {name}")
        if name not in result:
            result.append(name)
    return result


def limit(value: int | None, default: int, maximum: int) -> int:
    if value is None:
        return default
    if not 1 <= value <= maximum:
        raise bad_request(f"limit must be between 1 and {maximum}")
    return value
