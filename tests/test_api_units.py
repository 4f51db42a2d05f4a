"""The API's pieces that need no database: tokens, secrets, the rate limiter, cursors and
parameters. Expected values are worked out in the comments."""

from __future__ import annotations

import datetime as dt

import pytest

from api import params
from api.errors import ApiError
from api.http import fingerprint, make_cursor, read_cursor
from api.ratelimit import RateLimiter, retry_after
from api.tokens import TokenError, hash_secret, sign, verify, verify_secret

KEY = b"k" * 32


def test_a_token_carries_its_client_and_expires() -> None:
    token = sign(KEY, "abc", seconds=600, now=1000.0)
    claims = verify(KEY, token, now=1599.0)
    assert (claims.client_id, claims.issued_at, claims.expires_at) == ("abc", 1000, 1600)
    with pytest.raises(TokenError, match="expired"):
        verify(KEY, token, now=1600.0)  # valid for [1000, 1600)
    with pytest.raises(TokenError, match="signature"):
        verify(b"x" * 32, token, now=1100.0)
    # a lifetime beyond 900 s is cut to 900
    assert verify(KEY, sign(KEY, "abc", seconds=5000, now=0), now=1).expires_at == 900
    # changing one claim breaks the signature
    version, _claims, signature = token.split(".")
    forged = sign(KEY, "xyz", seconds=600, now=1000.0).split(".")[1]
    with pytest.raises(TokenError, match="signature"):
        verify(KEY, f"{version}.{forged}.{signature}", now=1100.0)


def test_secrets_are_stored_salted_and_hashed() -> None:
    first, second = hash_secret("s3cret"), hash_secret("s3cret")
    assert first != second and "s3cret" not in first  # a salt of its own each
    assert verify_secret("s3cret", first) and verify_secret("s3cret", second)
    assert not verify_secret("s3cret!", first)
    assert not verify_secret("s3cret", "plain$text")


def test_the_bucket_allows_the_burst_then_the_rate() -> None:
    limiter = RateLimiter(rate=2.0, burst=3)
    assert [limiter.take("a", now=10.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    # empty: the next token comes back after 1 / 2 s
    assert limiter.take("a", now=10.0) == pytest.approx(0.5)
    assert limiter.take("b", now=10.0) == 0.0  # another client has its own bucket
    # 0.25 s later half a token is back: 0.25 s more to wait
    assert limiter.take("a", now=10.25) == pytest.approx(0.25)
    assert limiter.take("a", now=10.5) == 0.0
    assert retry_after(0.25) == "1" and retry_after(1.2) == "2"


def test_full_buckets_are_forgotten_past_the_table_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("api.ratelimit.MAX_BUCKETS", 3)
    limiter = RateLimiter(rate=1.0, burst=2)
    for key in ("a", "b", "c"):
        limiter.take(key, now=0.0)  # each bucket: 2 - 1 = 1 token
    limiter.take("a", now=0.0)  # a: 0 tokens
    # at t = 1.5: b and c are full again (1 + 1.5 >= 2), a is not (0 + 1.5): a new key
    # forgets b and c only, and a still waits
    limiter.take("d", now=1.5)
    assert sorted(limiter._buckets) == ["a", "d"]
    assert limiter.take("a", now=1.5) == 0.0  # 1.5 tokens -> 0.5 left
    assert limiter.take("a", now=1.5) == pytest.approx(0.5)


def test_a_cursor_belongs_to_its_request_and_publication() -> None:
    fp = fingerprint("client", {"metric": "ggr", "limit": 2})
    cursor = make_cursor(KEY, fp, 7, 4)
    assert read_cursor(KEY, cursor, fp, 7) == 4
    assert read_cursor(KEY, None, fp, 7) == 0
    with pytest.raises(ApiError) as stale:
        read_cursor(KEY, cursor, fp, 8)
    assert stale.value.error == "stale_cursor"
    other = fingerprint("client", {"metric": "win", "limit": 2})
    with pytest.raises(ApiError, match="another request"):
        read_cursor(KEY, cursor, other, 7)
    with pytest.raises(ApiError, match="invalid cursor"):
        read_cursor(b"z" * 32, cursor, fp, 7)
    # the same parameters in another order are the same request
    assert fingerprint("client", {"limit": 2, "metric": "ggr"}) == fp


def test_instants_and_filters() -> None:
    utc = dt.UTC
    assert params.instant("from", "2026-03-01") == dt.datetime(2026, 3, 1, tzinfo=utc)
    # +02:00 as an unencoded query string delivers it: a space
    assert params.instant("from", "2026-03-01T12:00:00 02:00") == dt.datetime(
        2026, 3, 1, 10, tzinfo=utc
    )
    assert params.instant("from", "2026-03-01T10:00:00Z").hour == 10
    with pytest.raises(ApiError, match="not an ISO 8601"):
        params.instant("from", "yesterday")
    assert params.filters("brand_id:b1, game_id:g1", ("brand_id", "game_id"), "ggr") == {
        "brand_id": "b1",
        "game_id": "g1",
    }
    with pytest.raises(ApiError, match="can be filtered on brand_id, not player_id"):
        params.filters("player_id:p1", ("brand_id",), "ggr")
    with pytest.raises(ApiError, match="given twice"):
        params.filters("brand_id:a,brand_id:b", ("brand_id",), "ggr")
