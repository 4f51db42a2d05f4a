"""Envelope validation: every bad-input class of the contract gets a reason naming the field."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import orjson
import pytest

from ingestion.validation import (
    EventWindow,
    Rejection,
    _checked_row,
    _fast_row,
    validate_block,
    validate_line,
    with_batch,
)

GOOD = {
    "event_id": "e-1",
    "event_type": "bet.placed",
    "occurred_at": "2026-01-01T10:00:00.123Z",
    "ingested_at": "2026-01-01T10:00:01Z",
    "tenant_id": "brand-1",
    "region": "EU",
    "player_id": "p_1",
    "trace_id": "t-1",
    "schema_version": "1.0.0",
    "payload": {"bet_id": "b1", "stake_minor": 100},
}


# Landing on 2026-12-02 at noon with the default settings: 2000-01-01 to 2026-12-03 12:00 UTC.
WINDOW = EventWindow.at(date(2000, 1, 1), timedelta(days=1), datetime(2026, 12, 2, 12, tzinfo=UTC))


def line(**changes: object) -> bytes:
    doc = dict(GOOD)
    for key, value in changes.items():
        if value is ...:
            doc.pop(key)
        else:
            doc[key] = value
    return orjson.dumps(doc)


def test_a_valid_line_becomes_a_copy_row_in_column_order() -> None:
    row = validate_line(line())
    assert row == (
        "e-1\tbet.placed\t2026-01-01T10:00:00.123Z\t2026-01-01T10:00:01Z\tbrand-1\t"
        'EU\tp_1\tt-1\t1.0.0\t{"bet_id":"b1","stake_minor":100}'
    )


def test_optional_fields_absent_or_null_become_sql_nulls() -> None:
    row = validate_line(line(ingested_at=..., trace_id=None))
    assert isinstance(row, str)
    fields = row.split("\t")
    assert fields[3] == "\\N" and fields[7] == "\\N"


@pytest.mark.parametrize(
    ("raw", "field", "reason_part"),
    [
        (b'{"event_id": "e-1", "event_type":', None, "not valid JSON"),
        (b"[1, 2]", None, "JSON array, not an object"),
        (b'"just a string"', None, "JSON string, not an object"),
        (line(player_id=...), "player_id", "required field player_id is missing"),
        (line(tenant_id=None), "tenant_id", "required field tenant_id is missing"),
        (line(region="  "), "region", "required field region is empty"),
        (line(event_id=""), "event_id", "required field event_id is empty"),
        (line(player_id=17), "player_id", "player_id must be a string, got number"),
        (line(occurred_at="yesterday"), "occurred_at", "not an RFC 3339 timestamp"),
        (line(occurred_at="2026-01-01T10:00:00"), "occurred_at", "has no UTC offset"),
        (line(occurred_at="2026-13-01T10:00:00Z"), "occurred_at", "not a valid timestamp"),
        (line(occurred_at="2026-01-01"), "occurred_at", "not an RFC 3339 timestamp"),
        (line(occurred_at=1767261600), "occurred_at", "occurred_at must be a string, got number"),
        (line(ingested_at="soon"), "ingested_at", "not an RFC 3339 timestamp"),
        (line(ingested_at=5), "ingested_at", "must be an RFC 3339 string, got number"),
        (line(schema_version="2.0.0"), "schema_version", "major must be 1, got '2.0.0'"),
        (line(schema_version="one"), "schema_version", "not a semver string"),
        (line(payload="bet"), "payload", "payload must be a JSON object, got string"),
        (line(payload=[1]), "payload", "payload must be a JSON object, got array"),
        (line(payload=...), "payload", "required field payload is missing"),
        (line(event_id="x" * 65), "event_id", "65 characters long, more than 64"),
        (line(trace_id=5), "trace_id", "trace_id must be a string"),
        (line(payload={"note": "a\u0000b"}), "payload", "U+0000"),
        (b'{"event_id": "e\xff"}', None, "not valid JSON"),
        # PostgreSQL takes offsets up to 15:59 (Python up to 23:59): one such line failed COPY
        (line(occurred_at="2026-01-05T10:00:00+16:00"), "occurred_at", "offset +16:00, beyond"),
        (line(occurred_at="2026-01-05T10:00:00-23:59"), "occurred_at", "offset -23:59, beyond"),
        (line(occurred_at="2026-01-05T10:00:00+05:60"), "occurred_at", "offset +05:60, beyond"),
        (line(ingested_at="2026-01-05T10:00:00+16:00"), "ingested_at", "offset +16:00, beyond"),
        # years 1 and 9999 with an offset are years 0 and 10000 in UTC
        (line(ingested_at="0001-01-01T00:00:00+05:00"), "ingested_at", "outside years 1 to 9999"),
        (line(ingested_at="9999-12-31T23:59:59-01:00"), "ingested_at", "outside years 1 to 9999"),
        (line(occurred_at="2026-01-01T10:00:00.Z"), "occurred_at", "decimal point without digits"),
        (line(occurred_at="2026-01-01T10:00:00.1234567890Z"), "occurred_at", "more than 9 frac"),
        (line(schema_version="01.0.0"), "schema_version", "not a semver string"),
        (line(schema_version="1.00.0"), "schema_version", "not a semver string"),
        (line(schema_version="1.0.0-01"), "schema_version", "not a semver string"),
        (line(schema_version="\uff11.0.0"), "schema_version", "not a semver string"),
        # the window of event time
        (line(occurred_at="0001-01-01T00:00:00Z"), "occurred_at", "before 2000-01-01, the earl"),
        (line(occurred_at="1999-12-31T23:59:59Z"), "occurred_at", "before 2000-01-01"),
        (line(occurred_at="9999-12-31T23:59:59Z"), "occurred_at", "after 2026-12-03T12:00:00Z"),
        (line(occurred_at="2026-12-03T12:00:01Z"), "occurred_at", "more than 1 day after the t"),
        # a key twice, at any depth: orjson keeps the last one silently
        (b'{"event_id":"a","tenant_id":"b1","tenant_id":"b2"}', "tenant_id", "'tenant_id' appe"),
        (line()[:-2] + b',"bet_id":"b2"}}', "payload", "payload has the key 'bet_id' more than"),
        (line()[:-2] + b',"x":[{"k":1,"k":2}]}}', "payload", "the key 'k' more than once"),
        (line()[:-1] + b',"tenant_id" :"b2"}', "tenant_id", "more than once"),
        (line()[:-2] + b',"x":1e131072}}', "payload", "the number 1e131072, beyond what Postg"),
        (line()[:-2] + b',"x":1e-16384}}', "payload", "the number 1e-16384, beyond"),
        (line()[:-2] + b',"x":NaN}}', None, "not valid JSON"),
        (line()[:-2] + b',"x":1e400,"y":NaN}}', None, "not valid JSON"),
        (line()[:-2] + b',"x":1e400,"y":"\\ud800"}}', None, "surrogates not allowed"),
        # the byte offset of invalid UTF-8 (not "line 1 column 1" whatever it is)
        (b'{"event_id": "abc\xc3(", "x": 1}', None, "byte 0xc3 at byte offset 17 of the line"),
        (b"\xff{}", None, "byte 0xff at byte offset 0"),
        # lines separated by a lone CR are one line to an NDJSON reader: say so
        (line() + b"\r" + line() + b"\r" + line(), None, "2 carriage return(s) (CR) not foll"),
    ],
)
def test_each_bad_input_class_is_rejected_with_its_own_reason(
    raw: bytes, field: str | None, reason_part: str
) -> None:
    result = validate_line(raw, WINDOW)
    assert isinstance(result, Rejection), result
    assert result.field == field
    assert reason_part in result.reason


def test_offsets_and_precision_that_rfc3339_allows_are_accepted() -> None:
    for value in (
        "2026-01-01T12:00:00+02:00",
        "2026-01-01T10:00:00.123456789Z",
        "2026-01-01t10:00:00z",
        "2026-01-01 10:00:00-05:30",
        "2026-01-01T10:00:00+15:59",
        "2026-01-01T10:00:00-15:59",
        "2000-01-01T00:00:00Z",  # the earliest date itself
        "2000-01-01T05:00:00+05:00",
        "2026-12-03T12:00:00Z",  # landing time + tolerance
    ):
        assert isinstance(validate_line(line(occurred_at=value), WINDOW), str), value
    for version in ("1.0.0", "1.10.0", "1.0.0-rc.1", "1.0.0-0.3.7", "1.0.0+build.007"):
        assert isinstance(validate_line(line(schema_version=version), WINDOW), str), version


def test_the_window_follows_the_settings() -> None:
    replay = EventWindow.at(date(1990, 1, 1), timedelta(hours=2), datetime(2026, 6, 1, tzinfo=UTC))
    assert isinstance(validate_line(line(occurred_at="1995-05-05T00:00:00Z"), replay), str)
    late = validate_line(line(occurred_at="2026-06-01T02:00:01Z"), replay)
    assert isinstance(late, Rejection) and "more than 2 hours after" in late.reason
    # a tolerance reaching past year 9999 is capped there, and 9999 itself lands
    far = EventWindow.at(
        date(2000, 1, 1), timedelta(days=3_000_000), datetime(2026, 6, 1, tzinfo=UTC)
    )
    assert isinstance(validate_line(line(occurred_at="9999-12-31T23:59:59Z"), far), str)
    assert isinstance(validate_line(line(occurred_at="9999-12-31T23:59:59-01:00"), far), Rejection)


@pytest.mark.parametrize(
    ("number", "stored"),
    [
        # integers beyond 64 bits: orjson reads them as doubles (1180591620717411300000)
        (b"1180591620717411303424", "1180591620717411303424"),
        (b"-18446744073709551617", "-18446744073709551617"),
        (b"18446744073709551615", "18446744073709551615"),  # still 64 bits (unsigned)
        # more digits than a double holds, and numbers beyond its range
        (b"0.10000000000000000000001", "0.10000000000000000000001"),
        (b"1e400", "1e400"),
        (b"1.50", "1.50"),
        (b"[1e-400, 2]", "[1e-400,2]"),
    ],
)
def test_numbers_reach_the_payload_as_written(number: bytes, stored: str) -> None:
    raw = line()[:-2] + b',"n":' + number + b"}}"
    row = validate_line(raw, WINDOW)
    assert isinstance(row, str), row
    assert row.split("\t")[9] == '{"bet_id":"b1","stake_minor":100,"n":' + stored + "}"


def test_event_id_of_exactly_64_characters_is_accepted() -> None:
    assert isinstance(validate_line(line(event_id="x" * 64)), str)


def test_values_with_copy_specials_are_escaped() -> None:
    row = validate_line(line(player_id="p\t1", payload={"note": "a\\b\nc"}))
    assert isinstance(row, str)
    fields = row.split("\t")
    assert len(fields) == 10
    assert fields[6] == "p\\t1"
    # JSON's own escapes are doubled for COPY: the payload arrives as {"note":"a\\b\nc"}
    assert fields[9] == '{"note":"a\\\\\\\\b\\\\nc"}'


def test_block_accounting_counts_every_physical_line() -> None:
    block = b"\n".join([line(), b"", b"   ", b"not json", line(event_id="e-2") + b"\r"]) + b"\n"
    result = validate_block(block, first_line_no=10, source="/in/f.ndjson", window=WINDOW)
    assert (result.lines, result.blank, result.rejected) == (5, 2, 1)
    events = with_batch(result.events_copy, 7).decode().splitlines()
    assert [e.split("\t")[:3] for e in events] == [["7", "10", "e-1"], ["7", "14", "e-2"]]
    quarantined = with_batch(result.quarantine_copy, 7).decode().splitlines()
    assert quarantined[0].split("\t")[:3] == ["7", "13", "/in/f.ndjson"]


@pytest.mark.parametrize("piece_bytes", [1, 100, 256 << 10])
def test_a_block_equals_its_lines_validated_one_by_one(
    piece_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a block is validated in pieces: their edges must not show
    monkeypatch.setattr("ingestion.validation._PIECE_BYTES", piece_bytes)
    lines = [line(event_id=f"e-{i}") if i % 5 else b"oops" for i in range(60)]
    lines[7] = b""
    lines[9] = line(region="a\tb")  # escaped for COPY, so it takes the full path
    block = b"\n".join(lines)  # no final newline: the last line still counts
    result = validate_block(block, first_line_no=1, source="/f")
    expected = [
        f"{no}\t{validate_line(raw)}"
        for no, raw in enumerate(lines, start=1)
        if raw and not raw.startswith(b"oops")
    ]
    assert result.events_copy.decode().splitlines() == expected
    assert (result.lines, result.blank, result.rejected) == (60, 1, 12)
    assert [q.split("\t")[0] for q in result.quarantine_copy.decode().splitlines()] == [
        str(i + 1) for i in range(0, 60, 5)
    ]


def test_the_batch_id_goes_in_front_of_every_row() -> None:
    assert with_batch(b"1\ta\n2\tb\\nc\n", 42) == b"42\t1\ta\n42\t2\tb\\nc\n"
    assert with_batch(b"", 42) == b""


_ODD_VALUES: list[object] = [
    None,
    "",
    " ",
    5,
    True,
    [],
    {},
    "a\tb",
    "x" * 65,
    "é",
    "2026-01-01T10:00:00Z",
    "2026-01-01t10:00:00z",
    "2026-01-01 10:00:00+02:00",
    "2026-02-30T10:00:00Z",
    "2026-01-01T10:00:00",
    "2026-01-01T10:00:00.Z",
    "2026-01-01T10:00:00,5Z",
    "2026-01-01T10:00:00.1234567890Z",
    "2026-01-01T10:00:00+0200",
    "2026-01-01T10:00:00+16:00",
    "2026-01-01T10:00:00+15:59",
    "2026-01-01T10:00:00-05:75",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+05:00",
    "1999-12-31T23:59:59Z",
    "2026-12-03T12:00:00Z",
    "2026-12-03T12:00:00.001Z",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-01:00",
    "01.0.0",
    "1.0.0-01",
    "\uff11.0.0",
    "1.2.3-rc.1",
    "2.0.0",
    "+2026-01-01T10:00:00Z",
    {"a": "\u0000"},
    1.5,
    [1, 2],
    {"a": {"b": 1}},
    {"b": [{"c": 1}]},
]


@pytest.mark.parametrize("field", [*GOOD, "extra"])
def test_the_fast_path_accepts_nothing_the_full_rules_reject(field: str) -> None:
    # The fast path may pass a line on to the full rules, but what it accepts must be what
    # they accept, with the same row.
    validate_line(line())  # the fast path knows schema versions once they were found valid
    for value in [*_ODD_VALUES, ...] if field in GOOD else _ODD_VALUES:
        raw = line(**{field: value})
        fast = _fast_row(raw, WINDOW)
        assert fast is None or fast == _checked_row(raw, WINDOW), (field, value)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"event_id":"e","event_id":"f"}',
        # whitespace before a colon hides a key from a count of '":'
        line()[:-1] + b',"tenant_id" :"b2"}',
        line()[:-1] + b',"tenant_id"\t:"b2"}',
        line()[:-1] + b',"tenant_id"\r:"b2"}',
        line()[:-2] + b',"bet_id" :"b2"}}',
        # a nested object's keys, and a repeated one in it
        line()[:-2] + b',"x":{"k":1,"k":2}}}',
        line()[:-1] + b',"extra":{"k":1,"k":2}}',
        line()[:-2] + b',"x":[{"k":1,"k":2}]}}',
    ],
)
def test_the_fast_path_leaves_repeated_keys_to_the_full_rules(raw: bytes) -> None:
    validate_line(line(), WINDOW)
    assert _fast_row(raw, WINDOW) is None
    result = _checked_row(raw, WINDOW)
    assert isinstance(result, Rejection) and "more than once" in result.reason, result


def test_a_value_that_looks_like_a_key_does_not_hide_a_repeated_one() -> None:
    # '":' inside a value ('":x"') counts like a key: the count is then one too many, never
    # one too few, so the line takes the full path
    raw = line()[:-2] + b',"note":":x","bet_id":"b2"}}'
    assert _fast_row(raw, WINDOW) is None
    rejected = validate_line(raw, WINDOW)
    assert isinstance(rejected, Rejection) and rejected.field == "payload"
    fine = line(payload={"note": ":x"})
    assert _fast_row(fine, WINDOW) == _checked_row(fine, WINDOW)
    spaced = fine.replace(b'":', b'": ')  # not orjson's own form: the colons are counted
    assert _fast_row(spaced, WINDOW) is None and isinstance(_checked_row(spaced, WINDOW), str)


def test_the_fast_path_takes_lines_written_with_spaces_or_a_cr() -> None:
    validate_line(line(), WINDOW)
    for raw in (
        line().replace(b'":', b'": ').replace(b'",', b'", '),  # Python's json.dumps
        line() + b"\r",  # validate_block cuts a CR only for the full path
        line(payload={"minutes": 5.8}).replace(b'","', b'", "'),  # a compact payload
    ):
        fast = _fast_row(raw, WINDOW)
        assert fast is not None and fast == _checked_row(raw, WINDOW), raw
    # a fraction not as orjson writes it back (0.10 for 0.1), spaced: the full path keeps it
    raw = line(payload={"minutes": 5.8}).replace(b"5.8", b"5.80").replace(b'":', b'": ')
    assert _fast_row(raw, WINDOW) is None
    row = _checked_row(raw, WINDOW)
    assert isinstance(row, str) and row.endswith('{"minutes":5.80}')


def test_a_line_that_breaks_the_rules_in_an_unforeseen_way_is_quarantined(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(raw: bytes, window: EventWindow | None = None) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr("ingestion.validation._checked_row", broken)
    block = line() + b"\n" + line(region=7) + b"\n"
    result = validate_block(block, first_line_no=1, source="/f", window=WINDOW)
    assert (result.lines, result.rejected) == (2, 1)
    assert b"line could not be validated: RuntimeError: boom" in result.quarantine_copy


def test_quarantine_rows_hold_no_character_postgresql_refuses() -> None:
    # the key holding U+0000 is named in the reason and the field: both are made storable
    raw = line()[:-1] + b',"a\\u0000":"x\\u0000"}'
    result = validate_block(raw + b"\n", first_line_no=1, source="/f", window=WINDOW)
    assert result.rejected == 1
    assert b"\x00" not in result.quarantine_copy
    assert b"a\\\\x00" in result.quarantine_copy  # \x00, COPY-escaped


def test_an_overlong_line_is_quarantined_keeping_its_head(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ingestion.validation.MAX_LINE_BYTES", 1000)
    monkeypatch.setattr("ingestion.validation.QUARANTINED_HEAD_BYTES", 100)
    long = line(payload={"note": "x" * 2000})
    block = line() + b"\n" + long + b"\n"
    result = validate_block(block, first_line_no=1, source="/f", window=WINDOW)
    assert (result.lines, result.rejected) == (2, 1)
    [row] = result.quarantine_copy.decode().splitlines()
    no, _, field, reason, raw = row.split("\t")
    assert (no, field) == ("2", "\\N")
    assert f"line is {len(long):,} bytes long, more than 1,000" in reason
    assert raw == long[:100].decode()
