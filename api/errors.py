"""The API's errors: JSON `{"error", "detail"}` with their HTTP status, never a traceback."""

from __future__ import annotations


class ApiError(Exception):
    """An answer that is an error; `error` is a short machine-readable code."""

    def __init__(self, status: int, error: str, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers or {}


def bad_request(detail: str) -> ApiError:
    return ApiError(400, "bad_request", detail)


def unauthorized(detail: str) -> ApiError:
    # RFC 6750: a 401 names the scheme it wants
    return ApiError(401, "unauthorized", detail, {"WWW-Authenticate": 'Bearer realm="dwh"'})


def forbidden(detail: str) -> ApiError:
    return ApiError(403, "forbidden", detail)


def not_found(detail: str) -> ApiError:
    return ApiError(404, "not_found", detail)
