"""The ASGI application: `create_app(database_url)`.

Routes: POST /v1/oauth/token; /v1/analytics/* (timeseries, slice, funnel, retention, ltv);
/v1/points/*; /v1/game/metrics[/last-30-days]; OpenAPI docs at /docs. Every error is JSON
`{"error", "detail"}`; an unexpected one is a 500 with a request id and nothing else (the
traceback goes to the server's log). Every /v1 request leaves a row in audit.api_access.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.clients import client_secret_hash
from api.context import AccessRecord, ApiContext
from api.errors import ApiError, bad_request, unauthorized
from api.http import dumps
from api.ratelimit import retry_after
from api.tokens import MAX_TOKEN_SECONDS, sign, verify_secret

log = logging.getLogger("dwh.api")
# Request parameters kept out of the access audit: ids of players are pseudonymous, but the
# audit says what was asked, not about whom.
_NOT_AUDITED = {"player", "cursor", "client_secret"}


_TOKEN_FORM: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["grant_type", "client_id", "client_secret"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "client_id": {"type": "string"},
                        "client_secret": {"type": "string", "format": "password"},
                    },
                }
            }
        },
    }
}


def _secret_hash(ctx: ApiContext, claimed: str) -> str | None:
    with ctx.owner() as conn:
        return client_secret_hash(conn, claimed)


def _error(status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    return Response(
        dumps({"error": error, "detail": detail}),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def create_app(
    database_url: str,
    *,
    rate_per_second: float = 50.0,
    burst: int = 100,
    pool_size: int = 8,
    token_seconds: int = 900,
) -> FastAPI:
    ctx = ApiContext(
        database_url,
        rate_per_second=rate_per_second,
        burst=burst,
        pool_size=pool_size,
        token_seconds=token_seconds,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx.open()
        try:
            yield
        finally:
            ctx.close()

    app = FastAPI(
        title="gaming-dwh analytics API",
        version="1",
        description="Metrics over gold, per client, brand isolation by row-level security. "
        "See docs/api.md.",
        lifespan=lifespan,
    )
    app.state.ctx = ctx

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return _error(exc.status, exc.error, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p not in ('query', 'body'))}: "
            f"{e.get('msg', 'invalid')}"
            for e in exc.errors()
        )
        return _error(400, "bad_request", problems or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        names = {404: "not_found", 405: "method_not_allowed"}
        return _error(exc.status_code, names.get(exc.status_code, "error"), str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        incident = uuid.uuid4().hex[:12]
        # the route's template, not the path (which may hold a player id)
        route = getattr(request.scope.get("route"), "path", "(no route)")
        log.error("request %s failed (incident %s)", route, incident, exc_info=exc)
        return _error(500, "internal", f"the server failed to answer (incident {incident})")

    @app.middleware("http")
    async def audit(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception as exc:  # the handler above answers; the audit still counts it
            response = await unexpected(request, exc)
        if request.url.path.startswith("/v1/"):
            route = request.scope.get("route")
            params: dict[str, Any] = {
                k: v for k, v in request.query_params.items() if k not in _NOT_AUDITED
            }
            params.update(getattr(request.state, "audit_body", {}))
            ctx.record(
                AccessRecord(
                    client_id=getattr(request.state, "client_id", None),
                    # the route's template, never the path itself: it may carry a player id
                    endpoint=getattr(route, "path", "(no route)"),
                    method=request.method,
                    filters=params,
                    status=response.status_code,
                    rows=getattr(request.state, "rows", None),
                    duration_ms=(time.perf_counter() - started) * 1000,
                )
            )
        return response

    @app.post("/v1/oauth/token", tags=["auth"], openapi_extra=_TOKEN_FORM)
    async def token(request: Request) -> Response:
        """Client credentials grant (form fields grant_type=client_credentials, client_id,
        client_secret): a bearer token valid for `expires_in` seconds (at most 900)."""
        # parsed here: FastAPI's Form() needs python-multipart, which a urlencoded body does not
        form = {
            k: v[-1] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()
        }
        if form.get("grant_type") != "client_credentials":
            raise ApiError(400, "unsupported_grant_type", "grant_type must be client_credentials")
        claimed, secret = form.get("client_id", ""), form.get("client_secret", "")
        if not claimed or not secret:
            raise bad_request("client_id and client_secret are required")
        # each attempt costs a scrypt: guessing (or flooding) is limited per claimed client
        wait = ctx.limiter.take(f"token:{claimed}")
        if wait:
            raise ApiError(
                429, "rate_limited", "too many token requests", {"Retry-After": retry_after(wait)}
            )
        stored = await run_in_threadpool(_secret_hash, ctx, claimed)
        if stored is None or not await run_in_threadpool(verify_secret, secret, stored):
            raise unauthorized("unknown client or wrong secret")
        request.state.client_id = claimed
        seconds = min(ctx.token_seconds, MAX_TOKEN_SECONDS)
        return Response(
            dumps(
                {
                    "access_token": sign(ctx.key, claimed, seconds=seconds),
                    "token_type": "Bearer",
                    "expires_in": seconds,
                }
            ),
            media_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    from api.routes import analytics, game, points

    app.include_router(analytics.router)
    app.include_router(points.router)
    app.include_router(game.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
