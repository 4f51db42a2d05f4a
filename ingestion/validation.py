"""Envelope validation of one line of an event file (the loader rules of events.md).

`validate_line` returns either the COPY text row for raw.events or a `Rejection` naming the
field and a reason a person can act on. Payload-level rules are not checked here: invalid
payloads land and the dbt models route them to audit.
"""

from __future__ import annotations

import ctypes
import operator
import re
from dataclasses import dataclass
from datetime import datetime

import orjson

from ingestion.catalog import MAX_EVENT_ID_LENGTH, SUPPORTED_SCHEMA_MAJOR

REQUIRED_STRINGS = (
    "event_id",
    "event_type",
    "occurred_at",
    "tenant_id",
    "region",
    "player_id",
    "schema_version",
)
_SEMVER = re.compile(r"(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.+-]*)?")
_COPY_SPECIALS = ("\\", "\t", "\n", "\r")

# The fast path (`_fast_row`) takes the required strings in one C call, in this order.
_ENVELOPE = operator.itemgetter(*REQUIRED_STRINGS)
# The usual RFC 3339 form ('2026-01-01T12:00:00.123Z', '...+02:00'): every value it matches
# passes `_timestamp`'s shape checks unchanged, so the fast path need only add the calendar check.
_COMMON_TIMESTAMP = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)", re.ASCII
).fullmatch
# schema_version values already found valid: a file holds a handful of distinct ones, and a set
# lookup is much cheaper than the semver match. Bounded, so hostile input cannot grow it.
_ACCEPTED_VERSIONS: set[str] = set()
_ACCEPTED_VERSIONS_MAX = 256


@dataclass(frozen=True, slots=True)
class Rejection:
    field: str | None
    reason: str


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _contains_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_contains_nul(v) for v in value)
    return False


def copy_escape(value: str) -> str:
    """Escape a value for PostgreSQL's COPY text format."""
    if any(ch in value for ch in _COPY_SPECIALS):
        value = (
            value.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return value


def _timestamp(doc: dict, field: str) -> str | Rejection:
    """An RFC 3339 date-time (full date, 'T' or space, full time, optional fraction, offset).

    Shape checks by position plus `datetime.fromisoformat` (which checks the calendar): a regex
    costs five times as much and this runs twice per line. The string itself goes to
    PostgreSQL, which converts the offset to UTC.
    """
    value = doc[field]
    if not isinstance(value, str):
        return Rejection(field, f"{field} must be an RFC 3339 string, got {_json_type(value)}")
    n = len(value)
    if not (
        19 <= n <= 35
        and value[4] == "-"
        and value[7] == "-"
        and value[10] in "Tt "
        and value[13] == ":"
        and value[16] == ":"
        and value[:4].isdigit()
        and (n == 19 or value[19] in ".Zz+-")
        and "," not in value
    ):
        return Rejection(field, f"{field} is not an RFC 3339 timestamp: {value[:64]!r}")
    if not (value[-1] in "Zz" or (value[-6] in "+-" and value[-3] == ":")):
        return Rejection(field, f"{field} has no UTC offset (Z or +hh:mm): {value!r}")
    if value[10] == "t" or value[-1] == "z":
        value = value.upper()  # RFC 3339 allows lower case; fromisoformat does not
    try:
        datetime.fromisoformat(value)
    except ValueError as exc:
        return Rejection(field, f"{field} is not a valid timestamp: {value!r} ({exc})")
    return value


def _version(value: str) -> Rejection | None:
    if value in _ACCEPTED_VERSIONS:
        return None
    version = _SEMVER.fullmatch(value)
    if version is None:
        return Rejection("schema_version", f"schema_version is not a semver string: {value[:32]!r}")
    if int(version.group(1)) != SUPPORTED_SCHEMA_MAJOR:
        return Rejection(
            "schema_version",
            f"schema_version major must be {SUPPORTED_SCHEMA_MAJOR}, got {value!r}",
        )
    if len(_ACCEPTED_VERSIONS) < _ACCEPTED_VERSIONS_MAX:
        _ACCEPTED_VERSIONS.add(value)
    return None


def _fast_row(line: bytes) -> str | None:
    """The COPY row of a line in the usual shape, or None: then `_checked_row` decides.

    Validation is most of the landing's CPU, and most of that is interpreter overhead, so the
    common case takes as few steps as possible. It only ever accepts lines that `_checked_row`
    accepts, with the same row, and leaves every rejection (and its reason) to it. Lines with
    a backslash (escapes, which may need COPY escaping or hide a U+0000) take the full path.
    """
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if type(doc) is not dict or b"\\" in line:
        return None
    try:
        envelope = _ENVELOPE(doc)
        # str.strip raises TypeError for a non-string (or None); an empty result is a blank
        if not all(map(str.strip, envelope)):
            return None
    except (KeyError, TypeError):
        return None
    event_id, event_type, occurred_at, tenant_id, region, player_id, schema_version = envelope
    payload = doc.get("payload")
    ingested_at = doc.get("ingested_at")
    trace_id = doc.get("trace_id")
    if (
        type(payload) is not dict
        or len(event_id) > MAX_EVENT_ID_LENGTH
        or schema_version not in _ACCEPTED_VERSIONS
        or not _COMMON_TIMESTAMP(occurred_at)
        or not (trace_id is None or type(trace_id) is str)
    ):
        return None
    try:
        datetime.fromisoformat(occurred_at)
        if ingested_at is not None:
            if type(ingested_at) is not str or not _COMMON_TIMESTAMP(ingested_at):
                return None
            datetime.fromisoformat(ingested_at)
    except ValueError:
        return None
    return "\t".join(
        (
            event_id,
            event_type,
            occurred_at,
            "\\N" if ingested_at is None else ingested_at,
            tenant_id,
            region,
            player_id,
            "\\N" if trace_id is None else trace_id,
            schema_version,
            orjson.dumps(payload).decode(),
        )
    )


def validate_line(line: bytes) -> str | Rejection:
    """One non-blank line (without its newline) -> a COPY row for raw.events, or a Rejection."""
    row = _fast_row(line)
    return row if row is not None else _checked_row(line)


def _checked_row(line: bytes) -> str | Rejection:
    """Every rule, in order, so that a rejection names the first field that breaks one."""
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return Rejection(None, f"line is not valid JSON: {exc}")
    if not isinstance(doc, dict):
        return Rejection(None, f"line is a JSON {_json_type(doc)}, not an object")

    for field in REQUIRED_STRINGS:
        value = doc.get(field)
        if value is None:
            return Rejection(field, f"required field {field} is missing")
        if not isinstance(value, str):
            return Rejection(field, f"{field} must be a string, got {_json_type(value)}")
        if not value.strip():
            return Rejection(field, f"required field {field} is empty")

    event_id = doc["event_id"]
    if len(event_id) > MAX_EVENT_ID_LENGTH:
        return Rejection(
            "event_id",
            f"event_id is {len(event_id)} characters long, more than {MAX_EVENT_ID_LENGTH}",
        )

    version_rejection = _version(doc["schema_version"])
    if version_rejection is not None:
        return version_rejection

    occurred_at = _timestamp(doc, "occurred_at")
    if isinstance(occurred_at, Rejection):
        return occurred_at
    ingested_at = None
    if doc.get("ingested_at") is not None:
        parsed = _timestamp(doc, "ingested_at")
        if isinstance(parsed, Rejection):
            return parsed
        ingested_at = parsed

    trace_id = doc.get("trace_id")
    if trace_id is not None and not isinstance(trace_id, str):
        return Rejection("trace_id", f"trace_id must be a string, got {_json_type(trace_id)}")

    payload = doc.get("payload")
    if payload is None:
        return Rejection("payload", "required field payload is missing")
    if not isinstance(payload, dict):
        return Rejection("payload", f"payload must be a JSON object, got {_json_type(payload)}")
    if b"\\u0000" in line:
        # PostgreSQL cannot store U+0000 in text or jsonb; one such line would fail the file.
        for field, value in doc.items():
            if _contains_nul(value):
                return Rejection(
                    field, f"{field} contains the character U+0000, which PostgreSQL cannot store"
                )
    payload_text = orjson.dumps(payload).decode()

    fields = [
        event_id,
        doc["event_type"],
        occurred_at,
        ingested_at,
        doc["tenant_id"],
        doc["region"],
        doc["player_id"],
        trace_id,
        doc["schema_version"],
        payload_text,
    ]
    if b"\\" in line:
        # Decoded JSON strings can hold a backslash, tab or newline only if the line had a
        # backslash escape, so most lines skip escaping entirely.
        fields = [None if f is None else copy_escape(f) for f in fields]
    return "\t".join(["\\N" if f is None else f for f in fields])


@dataclass(frozen=True, slots=True)
class BlockResult:
    """A validated block. The rows are UTF-8 COPY text for raw.events and raw.quarantine
    without their first column, the batch id: `with_batch` adds it. So a file's blocks can be
    validated before its batch exists, while the file before it is still landing."""

    events_copy: bytes  # from line_no on
    quarantine_copy: bytes  # from line_no on
    lines: int
    blank: int
    rejected: int


def with_batch(rows: bytes, batch_id: int) -> bytes:
    """COPY rows (each ending in a newline) with the batch id as a first column."""
    if not rows:
        return rows
    # Values are COPY-escaped, so every raw newline ends a row.
    prefix = b"%d\t" % batch_id
    return prefix + rows[:-1].replace(b"\n", b"\n" + prefix) + b"\n"


def _printable(line: bytes) -> str:
    # Quarantine keeps the line as text: invalid UTF-8 is shown with backslash escapes and
    # NUL (which PostgreSQL text cannot hold) as \x00.
    return line.decode("utf-8", errors="backslashreplace").replace("\x00", "\\x00")


def init_worker() -> None:
    """Set up a process that validates blocks for the loader (a pool's initializer).

    Every block arrives as a few MiB of bytes and leaves as a few MiB of text. glibc serves
    buffers that large with mmap and unmaps them on free, so a worker faulted them in afresh
    for each block: 300,000 to 600,000 page faults on the benchmark and up to an eighth of
    the workers' CPU, against 11,000 with the buffers kept in the heap. A no-op where the C
    library is not glibc.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    mallopt(m_mmap_threshold, 32 << 20)  # glibc's maximum
    mallopt(m_trim_threshold, 128 << 20)


# A block is validated a piece at a time so that the per-line objects of one piece (lines and
# rows, small objects in the interpreter's arenas) are freed before the next piece is split:
# the same arenas are reused rather than a block's worth mapped and unmapped for each block.
# On the benchmark: 11,000 page faults in the workers instead of 216,000 (0.6 s of system time).
_PIECE_BYTES = 256 << 10


def validate_block(block: bytes, first_line_no: int, source: str) -> BlockResult:
    """Validate a block of whole lines; a pure function so that blocks can go to other processes.

    Line numbers are 1-based physical lines of the file, blank lines included.
    """
    events: list[str] = []
    rejected: list[str] = []
    lines = blank = 0
    source_escaped = copy_escape(source)
    start, size = 0, len(block)
    while start < size:
        cut = block.find(b"\n", start + _PIECE_BYTES)
        end = size if cut < 0 else cut + 1
        piece = block[start:end].split(b"\n")
        if piece[-1] == b"":
            piece.pop()  # the piece's final newline
        rows: list[str] = []
        append = rows.append
        for line_no, line in enumerate(piece, start=first_line_no + lines):
            # A trailing CR is JSON whitespace: the fast path accepts such a line, with the
            # row the full path gives it once the CR is cut.
            row = _fast_row(line)
            if row is None:
                if line.endswith(b"\r"):
                    line = line[:-1]
                if not line or line.isspace():
                    blank += 1
                    continue
                checked = _checked_row(line)
                if isinstance(checked, Rejection):
                    rejected.append(
                        "\t".join(
                            (
                                str(line_no),
                                source_escaped,
                                copy_escape(checked.field) if checked.field else "\\N",
                                copy_escape(checked.reason),
                                copy_escape(_printable(line)),
                            )
                        )
                    )
                    continue
                row = checked
            append(f"{line_no}\t{row}")
        if rows:
            events.append("\n".join(rows) + "\n")
        lines += len(piece)
        start = end
    return BlockResult(
        events_copy="".join(events).encode(),
        quarantine_copy=("\n".join(rejected) + "\n").encode() if rejected else b"",
        lines=lines,
        blank=blank,
        rejected=len(rejected),
    )
