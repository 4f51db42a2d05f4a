"""Answers: JSON bodies, ETag and Cache-Control, and opaque cursors.

ETag: a hash of the answer's body. The body is what a publication changes, so an ETag
changes exactly when a new publication (late events included) changes the answer, and stays
when it does not. A matching `If-None-Match` is a 304 without a body.

Cursors: `offset` of the next page, signed (HMAC, the token key) with a fingerprint of the
request (its normalized parameters and the client) and the publication the page was read
from. A cursor of another request is refused (400); after a new publication it is refused
too (400, `stale_cursor`), since its pages would mix two publications: start again.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson
from fastapi import Request, Response

from api.errors import ApiError, bad_request

# Cache lifetimes: a bucket of 1m may change at every publication (every few minutes), a day
# at most once an hour in practice (late events), cohorts and daily figures likewise.
MAX_AGE = {"1m": 30, "5m": 60, "1h": 300, "1d": 3600}
DAILY_MAX_AGE = 3600
NO_CACHE = 0  # answers relative to "now" (points windows, seconds since the last award)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def dumps(payload: Any) -> bytes:
    return orjson.dumps(payload, default=_default, option=orjson.OPT_UTC_Z)


def respond(request: Request, payload: Any, *, max_age: int, rows: int) -> Response:
    body = dumps(payload)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    request.state.rows = rows
    headers = {
        "ETag": etag,
        "Cache-Control": f"private, max-age={max_age}" if max_age else "private, no-cache",
    }
    wanted = request.headers.get("if-none-match")
    if wanted and (wanted.strip() == "*" or etag in (t.strip() for t in wanted.split(","))):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def fingerprint(client_id: str, params: Mapping[str, Any]) -> str:
    normal = dumps({"client": client_id, **{k: params[k] for k in sorted(params)}})
    return hashlib.sha256(normal).hexdigest()[:24]


def make_cursor(key: bytes, request_fp: str, publication_id: int, offset: int) -> str:
    claims = _b64(dumps({"f": request_fp, "p": publication_id, "o": offset}))
    signature = hmac.new(key, claims.encode(), hashlib.sha256).digest()[:16]
    return f"{claims}.{_b64(signature)}"


def read_cursor(key: bytes, cursor: str | None, request_fp: str, publication_id: int) -> int:
    """The offset a cursor points at (0 without one); 400 for a foreign or stale cursor."""
    if not cursor:
        return 0
    try:
        claims, signature = cursor.split(".")
        expected = hmac.new(key, claims.encode(), hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(
            base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)), expected
        ):
            raise ValueError
        data = orjson.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
        offset = int(data["o"])
    except (ValueError, KeyError, TypeError):
        raise bad_request("invalid cursor") from None
    if data.get("f") != request_fp:
        raise bad_request("the cursor belongs to another request: repeat its parameters")
    if data.get("p") != publication_id:
        raise ApiError(
            400,
            "stale_cursor",
            "gold was published again since this cursor was made: start again without cursor",
        )
    return offset
