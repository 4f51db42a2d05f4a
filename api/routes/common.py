"""What the routes share: the context, brand checks and pages."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from api.context import ApiContext, Scoped
from api.errors import bad_request, forbidden
from api.http import make_cursor


def ctx_of(request: Request) -> ApiContext:
    return request.app.state.ctx  # type: ignore[no-any-return]


def check_brands(scoped: Scoped, filters: dict[str, Any]) -> None:
    """Asking for a brand outside the client's scope is a 403, not an empty answer."""
    brand = filters.get("brand_id")
    if brand is not None and not scoped.client.allows(str(brand)):
        raise forbidden(f"this client may not read brand {brand}")


def page(
    ctx: ApiContext,
    scoped: Scoped,
    rows: list[dict[str, Any]],
    *,
    limit: int,
    offset: int,
    request_fp: str,
) -> tuple[list[dict[str, Any]], str | None]:
    """The page's rows and the cursor of the next page (None on the last one)."""
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], make_cursor(ctx.key, request_fp, scoped.publication_id, offset + limit)


def one_brand(scoped: Scoped, brand: str | None) -> str:
    """The brand a per-player question is about: the one asked for (403 outside the scope),
    or the client's only brand."""
    if brand is not None:
        if not scoped.client.allows(brand):
            raise forbidden(f"this client may not read brand {brand}")
        return brand
    if scoped.client.brands is not None and len(scoped.client.brands) == 1:
        return scoped.client.brands[0]
    raise bad_request("brand is required: ids of players, games and tasks are per brand")


def brand_filter(scoped: Scoped, filters: dict[str, Any], allowed: tuple[str, ...]) -> str | None:
    """The optional brand of a body's `filters` (the only other keys allowed: `allowed`)."""
    unknown = sorted(set(filters) - {"brand_id", *allowed})
    if unknown:
        names = ", ".join(("brand_id", *allowed))
        raise bad_request(f"filters may name {names}, not {', '.join(unknown)}")
    check_brands(scoped, filters)
    brand = filters.get("brand_id")
    return None if brand is None else str(brand)
