"""Envelope validation of one line of an event file (the loader rules of docs/input-contract.md).

`validate_line` returns either the COPY text row for raw.events or a `Rejection` naming the
field and a reason a person can act on. Payload-level rules are not checked here: invalid
payloads land and the dbt models route them to audit.
"""

from __future__ import annotations

import ctypes
import json
import operator
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

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
# Semantic Versioning 2.0.0: numbers without leading zeros, dot-separated pre-release and build
# identifiers (a numeric pre-release identifier without leading zeros either).
_SEMVER_NUMBER = r"(?:0|[1-9][0-9]*)"
_SEMVER_PRE = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_SEMVER = re.compile(
    rf"({_SEMVER_NUMBER})\.{_SEMVER_NUMBER}\.{_SEMVER_NUMBER}"
    rf"(?:-{_SEMVER_PRE}(?:\.{_SEMVER_PRE})*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)
# RFC 3339 date-time up to its offset: full-date, "T" (or "t" or a space, which it allows),
# partial-time with an optional fraction. The offset is checked on its own, for its reason.
_DATE_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(\.[0-9]*)?", re.ASCII)
_OFFSET = re.compile(r"[+-](\d\d):(\d\d)", re.ASCII)
# PostgreSQL's timestamptz input takes offsets up to 15:59 (Python's up to 23:59), and rounds
# fractions to microseconds; nine digits (nanoseconds) is as fine as a producer's clock goes.
MAX_OFFSET_HOURS = 15
MAX_FRACTION_DIGITS = 9
# A line longer than this is quarantined, keeping its first bytes: an event is a few hundred
# bytes, and PostgreSQL refuses a jsonb over 255 MB or a value over 1 GB, failing the file.
MAX_LINE_BYTES = 64 << 20
QUARANTINED_HEAD_BYTES = 64 << 10
# What Python (psycopg, Dagster, GX) can read back: years 1 to 9999 in UTC.
_MIN_UTC = datetime.min.replace(tzinfo=UTC)
_MAX_UTC = datetime.max.replace(tzinfo=UTC)
# PostgreSQL's numeric (which jsonb numbers are): at most 131,072 digits before the decimal
# point and 16,383 after it.
NUMERIC_MAX_WEIGHT = 131_072
NUMERIC_MAX_SCALE = 16_383
_NUMBER = re.compile(r"-?([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?", re.ASCII)
# Values the fast path stores through orjson exactly (orjson reads an integer beyond 64 bits,
# and any fraction, as a float: those take the full path, which keeps the number as written).
_EXACT_TYPES = frozenset({str, int, bool, type(None)})
_COPY_SPECIALS = ("\\", "\t", "\n", "\r")

# The fast path (`_fast_row`) takes the required strings in one C call, in this order.
_ENVELOPE = operator.itemgetter(*REQUIRED_STRINGS)
# The usual RFC 3339 form ('2026-01-01T12:00:00.123Z', '...+02:00'): every value it matches
# passes `_timestamp`'s shape checks unchanged, so the fast path need only add the calendar check.
_COMMON_TIMESTAMP = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-](?:0\d|1[0-5]):[0-5]\d)", re.ASCII
).fullmatch
# schema_version values already found valid: a file holds a handful of distinct ones, and a set
# lookup is much cheaper than the semver match. Bounded, so hostile input cannot grow it.
_ACCEPTED_VERSIONS: set[str] = set()
_ACCEPTED_VERSIONS_MAX = 256


@dataclass(frozen=True, slots=True)
class Rejection:
    field: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class EventWindow:
    """The `occurred_at` values landing accepts: from `earliest` to `latest` (the time of landing
    plus `tolerance`). Outside it an event is a producer's mistake (a year typed wrong, a clock
    unset), and one such event would stretch every date spine of the marts to its date."""

    earliest: datetime
    latest: datetime
    tolerance: timedelta

    @classmethod
    def at(cls, earliest: date, tolerance: timedelta, now: datetime | None = None) -> EventWindow:
        now = now or datetime.now(UTC)
        latest = _MAX_UTC if now >= _MAX_UTC - tolerance else now + tolerance
        return cls(datetime.combine(earliest, datetime.min.time(), UTC), latest, tolerance)

    def rejection(self, value: str, parsed: datetime) -> Rejection | None:
        if parsed < self.earliest:
            return Rejection(
                "occurred_at",
                f"occurred_at {value[:40]!r} is before {self.earliest:%Y-%m-%d}, the earliest "
                "event date landing accepts (DWH_EARLIEST_EVENT_DATE)",
            )
        if parsed > self.latest:
            return Rejection(
                "occurred_at",
                f"occurred_at {value[:40]!r} is after {self.latest:%Y-%m-%dT%H:%M:%SZ}: more "
                f"than {_duration(self.tolerance)} after the time of landing "
                "(DWH_FUTURE_TOLERANCE)",
            )
        return None


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


def default_window() -> EventWindow:
    """The window of the default settings, as of now (for callers that pass none)."""
    from warehouse.settings import DEFAULT_EARLIEST_EVENT_DATE, DEFAULT_FUTURE_TOLERANCE

    return EventWindow.at(DEFAULT_EARLIEST_EVENT_DATE, DEFAULT_FUTURE_TOLERANCE)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, orjson.Fragment, _Unstorable)):
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


def _holds(value: object, target: object) -> bool:
    """Whether `value` is `target` or holds it (by identity), at any depth."""
    if value is target:
        return True
    if isinstance(value, dict):
        return any(_holds(v, target) for v in value.values())
    if isinstance(value, list):
        return any(_holds(v, target) for v in value)
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


def _timestamp(doc: dict, field: str, window: EventWindow | None) -> str | Rejection:
    """An RFC 3339 date-time that PostgreSQL stores as it means: full date, "T" (or "t" or a
    space), full time, an optional fraction of 1 to 9 digits, "Z" or an offset up to +-15:59;
    a real calendar date, within years 1 to 9999 in UTC, and within `window` if given.

    The string itself goes to PostgreSQL, which converts the offset to UTC.
    """
    value = doc[field]
    if not isinstance(value, str):
        return Rejection(field, f"{field} must be an RFC 3339 string, got {_json_type(value)}")
    shape = _DATE_TIME.match(value)
    if shape is None:
        return Rejection(field, f"{field} is not an RFC 3339 timestamp: {value[:64]!r}")
    fraction, offset = shape.group(7), value[shape.end() :]
    if fraction == ".":
        return Rejection(field, f"{field} has a decimal point without digits: {value[:64]!r}")
    if fraction and len(fraction) > MAX_FRACTION_DIGITS + 1:
        return Rejection(
            field,
            f"{field} has more than {MAX_FRACTION_DIGITS} fractional digits: {value[:64]!r}",
        )
    if offset not in ("Z", "z"):
        numeric = _OFFSET.fullmatch(offset)
        if numeric is None:
            return Rejection(field, f"{field} has no UTC offset (Z or +hh:mm): {value[:64]!r}")
        if int(numeric.group(1)) > MAX_OFFSET_HOURS or int(numeric.group(2)) > 59:
            return Rejection(
                field,
                f"{field} has the UTC offset {offset}, beyond +-{MAX_OFFSET_HOURS}:59, "
                f"the most PostgreSQL accepts: {value!r}",
            )
    if value[10] == "t" or offset == "z":
        value = value.upper()  # RFC 3339 allows lower case; fromisoformat does not
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        return Rejection(field, f"{field} is not a valid timestamp: {value!r} ({exc})")
    if not _MIN_UTC <= parsed <= _MAX_UTC:
        return Rejection(field, f"{field} {value!r} is outside years 1 to 9999 once in UTC")
    if window is not None:
        return window.rejection(value, parsed) or value
    return value


def _version(value: str) -> Rejection | None:
    if value in _ACCEPTED_VERSIONS:
        return None
    version = _SEMVER.fullmatch(value)
    if version is None:
        return Rejection(
            "schema_version",
            "schema_version is not a semver string (MAJOR.MINOR.PATCH, no leading zeros): "
            f"{value[:32]!r}",
        )
    if version.group(1) != str(SUPPORTED_SCHEMA_MAJOR):  # no leading zeros: the text decides
        return Rejection(
            "schema_version",
            f"schema_version major must be {SUPPORTED_SCHEMA_MAJOR}, got {value[:32]!r}",
        )
    if len(_ACCEPTED_VERSIONS) < _ACCEPTED_VERSIONS_MAX:
        _ACCEPTED_VERSIONS.add(value)
    return None


def _fast_row(line: bytes, window: EventWindow) -> str | None:
    """The COPY row of a line in the usual shape, or None: then `_checked_row` decides.

    Validation is most of the landing's CPU, and most of that is interpreter overhead, so the
    common case takes as few steps as possible. It only ever accepts lines that `_checked_row`
    accepts, with the same row, and leaves every rejection (and its reason) to it. Lines with
    a backslash (escapes, which may need COPY escaping or hide a U+0000) take the full path,
    and so do lines that may repeat a key or hold a number orjson does not keep exactly.
    """
    if len(line) > MAX_LINE_BYTES:
        return None
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
    if ingested_at is not None and (
        type(ingested_at) is not str or not _COMMON_TIMESTAMP(ingested_at)
    ):
        return None
    payload_json = orjson.dumps(payload)
    # A line written as orjson writes it (as most producers do) repeats no key (the parsed
    # document, which keeps one value per key, would be shorter) and holds every number as
    # orjson reads it. One serialization and a compare: cheaper than any scan of the line.
    if orjson.dumps(doc) != line and not _plain(line, doc, payload, payload_json):
        return None
    try:
        if not window.earliest <= datetime.fromisoformat(occurred_at) <= window.latest:
            return None
        if ingested_at is not None and not (
            _MIN_UTC <= datetime.fromisoformat(ingested_at) <= _MAX_UTC
        ):
            return None
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
            payload_json.decode(),
        )
    )


def _plain(line: bytes, doc: dict, payload: dict, payload_json: bytes) -> bool:
    """Whether a line the fast path read, not in orjson's own form (spaces, a CR), repeats no
    key and holds its numbers as orjson reads them.

    No key twice, at any depth, with one count: without a backslash every '"' delimits a
    string, so the line's colons are one per key of every object plus those inside strings, of
    which the timestamps' are known. So the count is never less than this, and equal only if
    no key repeats, no object but the payload nests, and no other string holds a colon.
    """
    colons = len(doc) + len(payload) + doc["occurred_at"].count(":")
    ingested_at = doc.get("ingested_at")
    if ingested_at is not None:
        colons += ingested_at.count(":")
    if line.count(b":") != colons:
        return False
    # orjson reads an integer beyond 64 bits, or a fraction, as a double: exact only if the
    # payload was written as orjson writes it back. Found in the line, that text can only be
    # the payload's: no other object nests, and without a backslash no string holds '{"'.
    return _EXACT_TYPES.issuperset(map(type, payload.values())) or payload_json in line


def validate_line(line: bytes, window: EventWindow | None = None) -> str | Rejection:
    """One non-blank line (without its newline) -> a COPY row for raw.events, or a Rejection.

    `window`: the accepted `occurred_at` range, by default that of the default settings now.
    """
    window = window or default_window()
    row = _fast_row(line, window)
    return row if row is not None else _checked_row(line, window)


def _not_json(line: bytes, exc: orjson.JSONDecodeError) -> Rejection:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as bad:
        return Rejection(
            None,
            f"line is not valid JSON: it is not valid UTF-8 (byte 0x{line[bad.start]:02x} at "
            f"byte offset {bad.start} of the line: {bad.reason})",
        )
    reason = f"line is not valid JSON: {exc}"
    lone_crs = line.rstrip(b" \t\r").count(b"\r")
    if lone_crs:
        # A file whose lines end in a lone CR (classic Mac OS) is one line to an NDJSON reader.
        reason += (
            f"; the line holds {lone_crs} carriage return(s) (CR) not followed by a line feed: "
            f"if the file ends its lines with a lone CR, these are {lone_crs + 1} lines (e.g. "
            "several events) read as one, since only LF or CRLF ends a line"
        )
    return Rejection(None, reason)


class _Unstorable:
    """A JSON number outside the range of PostgreSQL's numeric (jsonb would refuse the line)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _number(text: str) -> orjson.Fragment | _Unstorable:
    """A JSON number with a fraction or exponent, kept as written (jsonb keeps every digit)."""
    parts = _NUMBER.fullmatch(text)
    if parts is None or (parts.group(3) and len(parts.group(3)) > 9):
        return _Unstorable(text)
    whole, fraction = parts.group(1), parts.group(2) or ""
    exponent = int(parts.group(3) or 0)
    digits = (whole + fraction).lstrip("0")
    # digits before the decimal point once the exponent is applied (0 or less: none)
    weight = len(digits) - len(fraction) + exponent if digits else 0
    if weight > NUMERIC_MAX_WEIGHT or len(fraction) - exponent > NUMERIC_MAX_SCALE:
        return _Unstorable(text)
    return orjson.Fragment(text)


def _integer(text: str) -> int | orjson.Fragment | _Unstorable:
    if len(text) < 19:  # within 64 bits: orjson writes it back exactly
        return int(text)
    if len(text.lstrip("-")) > NUMERIC_MAX_WEIGHT:
        return _Unstorable(text)
    return orjson.Fragment(text)


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _first_repeated(items: list[tuple[str, object]]) -> str:
    seen: set[str] = set()
    for key, _ in items:
        if key in seen:
            return key
        seen.add(key)
    raise ValueError("no key repeats")


@dataclass(frozen=True, slots=True)
class _Exact:
    """A line parsed keeping every number as written, with the first repeated key (and the
    object that repeats it) and the first number PostgreSQL cannot store, if any."""

    doc: object
    repeated: tuple[str, dict] | None
    unstorable: _Unstorable | None


def _parse_exactly(line: bytes) -> _Exact:
    """The line (valid JSON: orjson read it) parsed by the standard library, which shows every
    key of every object (orjson keeps the last of repeated keys silently) and every number as
    written (orjson turns an integer beyond 64 bits into a float)."""
    repeated: list[tuple[str, dict]] = []
    unstorable: list[_Unstorable] = []

    def pairs(items: list[tuple[str, object]]) -> dict:
        obj = dict(items)
        if len(obj) != len(items) and not repeated:
            repeated.append((_first_repeated(items), obj))
        return obj

    def checked(parse: Callable[[str], object]) -> Callable[[str], object]:
        def number(text: str) -> object:
            value = parse(text)
            if isinstance(value, _Unstorable) and not unstorable:
                unstorable.append(value)
            return value

        return number

    doc = json.loads(
        line.decode("utf-8"),
        object_pairs_hook=pairs,
        parse_float=checked(_number),
        parse_int=checked(_integer),
        parse_constant=_no_constant,
    )
    return _Exact(doc, repeated[0] if repeated else None, unstorable[0] if unstorable else None)


def _checked_row(line: bytes, window: EventWindow | None = None) -> str | Rejection:
    """Every rule, in order, so that a rejection names the first field that breaks one."""
    window = window or default_window()
    if len(line) > MAX_LINE_BYTES:
        return Rejection(
            None,
            f"line is {len(line):,} bytes long, more than {MAX_LINE_BYTES:,} "
            f"(raw_line keeps its first {QUARANTINED_HEAD_BYTES:,} bytes)",
        )
    try:
        orjson.loads(line)  # the JSON grammar (strict: no NaN, no lone surrogate), its messages
        beyond_double = False
    except orjson.JSONDecodeError as exc:
        if not str(exc).startswith("number is infinity"):
            return _not_json(line, exc)
        # Valid JSON (1e400, say) that orjson cannot read as a double: jsonb keeps it.
        beyond_double = True
    try:
        exact = _parse_exactly(line)
    except RecursionError:
        return Rejection(None, "line nests arrays or objects too deeply to be checked")
    except ValueError as exc:  # only where orjson did not read the line: its grammar errors
        return Rejection(None, f"line is not valid JSON: {exc}")
    doc = exact.doc
    if beyond_double:
        try:
            # the standard library allows what orjson refuses: lone surrogates
            orjson.dumps(doc, default=lambda _: None)  # (numbers out of range: checked below)
        except orjson.JSONEncodeError as exc:
            return Rejection(None, f"line is not valid JSON: {exc}")
    if not isinstance(doc, dict):
        return Rejection(None, f"line is a JSON {_json_type(doc)}, not an object")
    if exact.repeated is not None:
        key, obj = exact.repeated
        if obj is doc:
            return Rejection(
                key, f"the key {key!r} appears more than once: which value is meant is unclear"
            )
        field = next(f for f, v in doc.items() if _holds(v, obj))
        return Rejection(
            field, f"{field} has the key {key!r} more than once: which value is meant is unclear"
        )

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

    occurred_at = _timestamp(doc, "occurred_at", window)
    if isinstance(occurred_at, Rejection):
        return occurred_at
    ingested_at = None
    if doc.get("ingested_at") is not None:
        parsed = _timestamp(doc, "ingested_at", None)
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
    if exact.unstorable is not None and _holds(payload, exact.unstorable):
        return Rejection(
            "payload",
            f"payload holds the number {exact.unstorable.text[:40]}, beyond what PostgreSQL "
            f"stores ({NUMERIC_MAX_WEIGHT:,} digits before the decimal point, "
            f"{NUMERIC_MAX_SCALE:,} after)",
        )
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


def _storable(text: str) -> str:
    """A reason or field name as PostgreSQL text can hold it: both may quote the line (a key
    holding U+0000, say), and one bad quarantine row would fail the whole file."""
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8").replace("\x00", "\\x00")


_WATCHDOG_SECONDS = 0.25


def init_worker(parent_pid: int | None = None) -> None:
    """Set up a process that validates blocks for the loader (a pool's initializer).

    A worker exits on its own when its loader is gone (`parent_pid`): a loader killed with
    SIGKILL cannot stop its pool, and the workers (blocked on the pool's queue, whose write end
    they hold themselves) would otherwise wait for work for ever. A thread polls the parent
    process id: Linux's PR_SET_PDEATHSIG fires when the *thread* that started the process
    exits, and the pool is started from the landing's reader thread.

    Every block arrives as a few MiB of bytes and leaves as a few MiB of text. glibc serves
    buffers that large with mmap and unmaps them on free, so a worker faulted them in afresh
    for each block: 300,000 to 600,000 page faults on the benchmark and up to an eighth of
    the workers' CPU, against 11,000 with the buffers kept in the heap. A no-op where the C
    library is not glibc.
    """
    if parent_pid is not None:
        threading.Thread(
            target=_exit_with_parent, args=(parent_pid,), name="dwh-worker-watchdog", daemon=True
        ).start()
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    mallopt(m_mmap_threshold, 32 << 20)  # glibc's maximum
    mallopt(m_trim_threshold, 128 << 20)


def _exit_with_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(_WATCHDOG_SECONDS)
    os._exit(1)  # the loader is gone: nobody waits for this worker's results


# A block is validated a piece at a time so that the per-line objects of one piece (lines and
# rows, small objects in the interpreter's arenas) are freed before the next piece is split:
# the same arenas are reused rather than a block's worth mapped and unmapped for each block.
# On the benchmark: 11,000 page faults in the workers instead of 216,000 (0.6 s of system time).
_PIECE_BYTES = 256 << 10


def _checked_safely(line: bytes, window: EventWindow) -> str | Rejection:
    """`_checked_row`, and a line that makes it fail (a bug hostile input found) is
    quarantined: no single line may stop its file from landing."""
    try:
        return _checked_row(line, window)
    except Exception as exc:  # reported as the line's reason
        return Rejection(None, f"line could not be validated: {type(exc).__name__}: {exc}")


def validate_block(
    block: bytes, first_line_no: int, source: str, window: EventWindow | None = None
) -> BlockResult:
    """Validate a block of whole lines; a pure function so that blocks can go to other processes.

    Line numbers are 1-based physical lines of the file, blank lines included. `window` is the
    accepted `occurred_at` range (computed once per landing and passed to the workers).
    """
    window = window or default_window()
    events: list[str] = []
    rejected: list[str] = []
    lines = blank = 0
    source_escaped = copy_escape(_storable(source))
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
            row = _fast_row(line, window)
            if row is None:
                if line.endswith(b"\r"):
                    line = line[:-1]
                if not line or line.isspace():
                    blank += 1
                    continue
                checked = _checked_safely(line, window)
                if isinstance(checked, Rejection):
                    rejected.append(
                        "\t".join(
                            (
                                str(line_no),
                                source_escaped,
                                copy_escape(_storable(checked.field)) if checked.field else "\\N",
                                copy_escape(_storable(checked.reason)),
                                copy_escape(_printable(line[:QUARANTINED_HEAD_BYTES]))
                                if len(line) > MAX_LINE_BYTES
                                else copy_escape(_printable(line)),
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
