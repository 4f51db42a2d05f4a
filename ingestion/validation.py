"""Envelope validation of one line of an event file (the loader rules of events.md).

`validate_line` returns either the COPY text row for raw.events or a `Rejection` naming the
field and a reason a person can act on. Payload-level rules are not checked here: invalid
payloads land and the dbt models route them to audit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import orjson

from ingestion.catalog import MAX_EVENT_ID_LENGTH, SUPPORTED_SCHEMA_MAJOR

REQUIRED_STRINGS = ("event_id", "event_type", "occurred_at", "tenant_id", "region", "player_id",
                    "schema_version")
_SEMVER = re.compile(r"(\d+)\.(\d+)\.(\d+)(?:[-+][0-9A-Za-z.+-]*)?")
_COPY_SPECIALS = ("\\", "\t", "\n", "\r")


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
        value = (value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
                 .replace("\r", "\\r"))
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
    if not (19 <= n <= 35 and value[4] == "-" and value[7] == "-" and value[10] in "Tt "
            and value[13] == ":" and value[16] == ":" and value[:4].isdigit()
            and (n == 19 or value[19] in ".Zz+-") and "," not in value):
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


def validate_line(line: bytes) -> str | Rejection:
    """One non-blank line (without its newline) -> a COPY row for raw.events, or a Rejection."""
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
        return Rejection("event_id", f"event_id is {len(event_id)} characters long, "
                                     f"more than {MAX_EVENT_ID_LENGTH}")

    version = _SEMVER.fullmatch(doc["schema_version"])
    if version is None:
        return Rejection("schema_version",
                         f"schema_version is not a semver string: {doc['schema_version'][:32]!r}")
    if int(version.group(1)) != SUPPORTED_SCHEMA_MAJOR:
        return Rejection("schema_version",
                         f"schema_version major must be {SUPPORTED_SCHEMA_MAJOR}, "
                         f"got {doc['schema_version']!r}")

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
                return Rejection(field, f"{field} contains the character U+0000, "
                                        "which PostgreSQL cannot store")
    payload_text = orjson.dumps(payload).decode()

    fields = [event_id, doc["event_type"], occurred_at, ingested_at, doc["tenant_id"],
              doc["region"], doc["player_id"], trace_id, doc["schema_version"], payload_text]
    if b"\\" in line:
        # Decoded JSON strings can hold a backslash, tab or newline only if the line had a
        # backslash escape, so most lines skip escaping entirely.
        fields = [None if f is None else copy_escape(f) for f in fields]
    return "\t".join(["\\N" if f is None else f for f in fields])


@dataclass(frozen=True, slots=True)
class BlockResult:
    events_copy: str  # COPY text rows for raw.events
    quarantine_copy: str  # COPY text rows for raw.quarantine
    lines: int
    blank: int
    rejected: int


def _printable(line: bytes) -> str:
    # Quarantine keeps the line as text: invalid UTF-8 is shown with backslash escapes and
    # NUL (which PostgreSQL text cannot hold) as \x00.
    return line.decode("utf-8", errors="backslashreplace").replace("\x00", "\\x00")


def validate_block(block: bytes, first_line_no: int, batch_id: int, source: str) -> BlockResult:
    """Validate a block of whole lines; a pure function so that blocks can go to other processes.

    Line numbers are 1-based physical lines of the file, blank lines included.
    """
    lines = block.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the block's final newline
    events: list[str] = []
    rejected: list[str] = []
    blank = 0
    prefix = f"{batch_id}\t"
    source_escaped = copy_escape(source)
    for line_no, line in enumerate(lines, start=first_line_no):
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line or line.isspace():
            blank += 1
            continue
        row = validate_line(line)
        if isinstance(row, Rejection):
            rejected.append("\t".join((
                prefix + str(line_no), source_escaped,
                copy_escape(row.field) if row.field else "\\N",
                copy_escape(row.reason), copy_escape(_printable(line)),
            )))
        else:
            events.append(f"{prefix}{line_no}\t{row}")
    return BlockResult(
        events_copy="\n".join(events) + "\n" if events else "",
        quarantine_copy="\n".join(rejected) + "\n" if rejected else "",
        lines=len(lines), blank=blank, rejected=len(rejected),
    )
