"""Envelope validation: every bad-input class of events.md gets its own reason naming the field."""

from __future__ import annotations

import orjson
import pytest

from ingestion.validation import (
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
    ],
)
def test_each_bad_input_class_is_rejected_with_its_own_reason(
    raw: bytes, field: str | None, reason_part: str
) -> None:
    result = validate_line(raw)
    assert isinstance(result, Rejection), result
    assert result.field == field
    assert reason_part in result.reason


def test_offsets_and_precision_that_rfc3339_allows_are_accepted() -> None:
    for value in (
        "2026-01-01T12:00:00+02:00",
        "2026-01-01T10:00:00.123456789Z",
        "2026-01-01t10:00:00z",
        "2026-01-01 10:00:00-05:30",
    ):
        assert isinstance(validate_line(line(occurred_at=value)), str), value


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
    result = validate_block(block, first_line_no=10, source="/in/f.ndjson")
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
    "\uff11.0.0",
    "1.2.3-rc.1",
    "2.0.0",
    "+2026-01-01T10:00:00Z",
    {"a": "\u0000"},
]


@pytest.mark.parametrize("field", [*GOOD, "extra"])
def test_the_fast_path_accepts_nothing_the_full_rules_reject(field: str) -> None:
    # The fast path may pass a line on to the full rules, but what it accepts must be what
    # they accept, with the same row.
    validate_line(line())  # the fast path knows schema versions once they were found valid
    for value in [*_ODD_VALUES, ...] if field in GOOD else _ODD_VALUES:
        raw = line(**{field: value})
        fast = _fast_row(raw)
        assert fast is None or fast == _checked_row(raw), (field, value)
