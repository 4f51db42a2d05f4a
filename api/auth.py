"""Bearer authentication and the per-client rate limit, as a FastAPI dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.context import ApiContext
from api.errors import ApiError, unauthorized
from api.ratelimit import retry_after
from api.tokens import TokenError, verify


def context(request: Request) -> ApiContext:
    return request.app.state.ctx  # type: ignore[no-any-return]


def client_id(request: Request) -> str:
    """The bearer token's client, rate-limited. Whether the client is still active is checked
    in the request's own transaction (ApiContext.scoped)."""
    ctx = context(request)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("an Authorization: Bearer token is required (POST /v1/oauth/token)")
    try:
        claims = verify(ctx.key, token.strip())
    except TokenError as exc:
        raise unauthorized(str(exc)) from None
    request.state.client_id = claims.client_id
    wait = ctx.limiter.take(claims.client_id)
    if wait:
        raise ApiError(
            429,
            "rate_limited",
            f"more than {ctx.limiter.rate:g} requests per second (burst {ctx.limiter.burst})",
            {"Retry-After": retry_after(wait)},
        )
    return claims.client_id


ClientId = Annotated[str, Depends(client_id)]
