"""Hostile input at landing, through the real CLI (`dwh ingest`) where the process matters.

Each case is one an adversarial review reproduced; every input line must end in raw.events or
raw.quarantine (with file, line, field and reason) or be a counted blank line, the later files
of the same call must land, and the CLI must name the file without a traceback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from ingestion import validation
from ingestion.landing import land, unseen_files
from tests.events import query
from warehouse.settings import load_settings

DWH = Path(sys.executable).with_name("dwh")


def envelope(event_id: str, **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "event_id": event_id,
        "event_type": "session.started",
        "occurred_at": "2026-01-05T10:00:00Z",
        "tenant_id": "brand-1",
        "region": "EU",
        "player_id": "p_1",
        "schema_version": "1.0.0",
        "payload": {"session_id": "s1"},
    }
    doc.update(changes)
    return doc


def dumps(event_id: str, **changes: Any) -> bytes:
    return orjson.dumps(envelope(event_id, **changes))


def dwh_ingest(
    url: str, home: Path, *paths: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DWH), "ingest", *map(str, paths)],
        env={**os.environ, "DWH_DATABASE_URL": url, "DWH_HOME": str(home), **(env or {})},
        text=True,
        capture_output=True,
        timeout=120,
        check=False,
    )


def balanced(url: str) -> list[tuple[Any, ...]]:
    """Batches whose rows in raw do not add up to what was read (should be none)."""
    return query(
        url,
        """
        select b.batch_id, b.lines_read, b.events_landed, b.lines_quarantined, b.blank_lines,
               (select count(*) from raw.events e where e.batch_id = b.batch_id),
               (select count(*) from raw.quarantine q where q.batch_id = b.batch_id)
        from raw.load_batches b
        where b.lines_read <> b.events_landed + b.lines_quarantined + b.blank_lines
           or b.events_landed <> (select count(*) from raw.events e where e.batch_id = b.batch_id)
           or b.lines_quarantined
              <> (select count(*) from raw.quarantine q where q.batch_id = b.batch_id)
        """,
    )


# -- one landing of many hostile files, read by the tests below ---------------------------------
FILES: dict[str, list[bytes]] = {
    # 1: +16:00 is valid to Python, refused by PostgreSQL inside COPY
    "01-offset.ndjson": [
        dumps("o1"),
        dumps("o2", occurred_at="2026-01-05T10:00:00+16:00"),
        dumps("o3", ingested_at="2026-01-05T10:00:00-16:30"),
        dumps("o4", occurred_at="2026-01-05T10:00:00+15:59"),
    ],
    # 2: event dates that would stretch every date spine over millennia
    "02-extreme.ndjson": [
        dumps("x1", occurred_at="0001-01-01T00:00:00Z"),
        dumps("x2", occurred_at="9999-12-31T23:59:59Z"),
        dumps("x3", occurred_at="0001-01-01T00:00:00+05:00"),  # year 0 in UTC
        dumps("x4", occurred_at="2000-01-01T00:00:00Z"),
        b"",
    ],
    # 8: a key twice, at the top and in the payload
    "03-duplicate-keys.ndjson": [
        dumps("d1")[:-1] + b',"tenant_id":"brand-2"}',
        dumps("d2")[:-2] + b',"session_id":"s2"}}',
        dumps("d3", payload={"session_id": "s3", "meta": {"k": 1}})[:-3]
        + b',"k":2}}}',  # in a nested object
        dumps("d4"),
    ],
    # 9: integers beyond 64 bits, and more digits than a double holds
    "04-numbers.ndjson": [
        dumps("n1")[:-2] + b',"big":1180591620717411303424,"fine":0.10000000000000000000001}}',
        dumps("n2")[:-2] + b',"huge":1e400}}',
    ],
    # 10: lines separated by a lone CR (one physical line for an NDJSON reader)
    "05-cr.ndjson": [b"\r".join([dumps("c1"), dumps("c2"), dumps("c3")])],
    # 11: invalid UTF-8 far into the line
    "06-utf8.ndjson": [dumps("u1")[:-3] + b'\xff"}}', dumps("u2")],
    # 13: not semver, not RFC 3339
    "07-shapes.ndjson": [
        dumps("s1", schema_version="01.0.0"),
        dumps("s2", occurred_at="2026-01-05T10:00:00.Z"),
        dumps("s3", schema_version="1.0.0-rc.1"),
    ],
    # a later, ordinary file: it must land whatever came before
    "08-later.ndjson": [dumps("l1"), dumps("l2")],
}


@dataclass(frozen=True)
class Landed:
    url: str
    directory: Path
    proc: subprocess.CompletedProcess[str]

    def batch(self, name: str) -> tuple[int, int, int, int, int]:
        [row] = query(
            self.url,
            "select batch_id, lines_read, events_landed, lines_quarantined, blank_lines "
            "from raw.load_batches where file_name = %s",
            [name],
        )
        return row

    def quarantined(self, name: str) -> list[tuple[int, str, str | None, str]]:
        return query(
            self.url,
            "select q.line_no, q.source_file, q.field, q.reason from raw.quarantine q "
            "join raw.load_batches b using (batch_id) where b.file_name = %s order by 1",
            [name],
        )

    def events(self, name: str) -> list[str]:
        rows = query(
            self.url,
            "select e.event_id from raw.events e join raw.load_batches b using (batch_id) "
            "where b.file_name = %s order by e.line_no",
            [name],
        )
        return [r[0] for r in rows]


@pytest.fixture(scope="module")
def landed(module_warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Landed:
    base = tmp_path_factory.mktemp("hostile")
    directory = base / "in"
    directory.mkdir()
    for name, lines in FILES.items():
        (directory / name).write_bytes(b"\n".join(lines) + b"\n")
    proc = dwh_ingest(module_warehouse_url, base / "home", directory)
    return Landed(module_warehouse_url, directory, proc)


def test_the_landing_lands_every_file_and_names_no_traceback(landed: Landed) -> None:
    assert landed.proc.returncode == 0, landed.proc.stdout + landed.proc.stderr
    assert "Traceback" not in landed.proc.stdout + landed.proc.stderr
    assert "8 landed, 0 already landed, 0 failed" in landed.proc.stdout
    assert balanced(landed.url) == []
    assert landed.events("08-later.ndjson") == ["l1", "l2"]


def test_an_offset_beyond_1559_is_quarantined_naming_the_field(landed: Landed) -> None:
    assert landed.batch("01-offset.ndjson")[1:] == (4, 2, 2, 0)
    assert landed.events("01-offset.ndjson") == ["o1", "o4"]
    [(line2, source, field2, reason2), (line3, _, field3, reason3)] = landed.quarantined(
        "01-offset.ndjson"
    )
    assert source == str((landed.directory / "01-offset.ndjson").resolve())
    assert (line2, field2, line3, field3) == (2, "occurred_at", 3, "ingested_at")
    assert "offset +16:00, beyond +-15:59" in reason2
    assert "offset -16:30, beyond +-15:59" in reason3
    # +15:59 is stored as the instant it names
    assert query(
        landed.url,
        "select occurred_at = timestamptz '2026-01-04 18:01:00+00' from raw.events "
        "where event_id = 'o4'",
    ) == [(True,)]


def test_event_times_outside_the_window_are_quarantined_naming_the_bound(
    landed: Landed,
) -> None:
    assert landed.batch("02-extreme.ndjson")[1:] == (5, 1, 3, 1)
    assert landed.events("02-extreme.ndjson") == ["x4"]
    rejected = landed.quarantined("02-extreme.ndjson")
    assert [(r[0], r[2]) for r in rejected] == [
        (1, "occurred_at"),
        (2, "occurred_at"),
        (3, "occurred_at"),
    ]
    assert "before 2000-01-01, the earliest event date" in rejected[0][3]
    assert "DWH_EARLIEST_EVENT_DATE" in rejected[0][3]
    assert "more than 1 day after the time of landing (DWH_FUTURE_TOLERANCE)" in rejected[1][3]
    assert "outside years 1 to 9999 once in UTC" in rejected[2][3]


def test_a_repeated_key_at_any_depth_is_quarantined_naming_it(landed: Landed) -> None:
    assert landed.batch("03-duplicate-keys.ndjson")[1:] == (4, 1, 3, 0)
    assert landed.events("03-duplicate-keys.ndjson") == ["d4"]
    rejected = landed.quarantined("03-duplicate-keys.ndjson")
    assert [(r[0], r[2]) for r in rejected] == [(1, "tenant_id"), (2, "payload"), (3, "payload")]
    assert "the key 'tenant_id' appears more than once" in rejected[0][3]
    assert "payload has the key 'session_id' more than once" in rejected[1][3]
    assert "payload has the key 'k' more than once" in rejected[2][3]


def test_numbers_are_kept_as_they_arrived(landed: Landed) -> None:
    assert landed.batch("04-numbers.ndjson")[1:] == (2, 2, 0, 0)
    assert query(
        landed.url,
        "select payload->>'big', payload->>'fine', payload->>'huge' = ('1' || repeat('0', 400)) "
        "from raw.events where event_id in ('n1', 'n2') order by event_id",
    ) == [("1180591620717411303424", "0.10000000000000000000001", None), (None, None, True)]


def test_lines_separated_by_lone_crs_are_one_line_and_the_reason_says_so(
    landed: Landed,
) -> None:
    assert landed.batch("05-cr.ndjson")[1:] == (1, 0, 1, 0)
    [(line_no, _, field, reason)] = landed.quarantined("05-cr.ndjson")
    assert (line_no, field) == (1, None)
    assert "2 carriage return(s) (CR) not followed by a line feed" in reason
    assert "3 lines (e.g. several events) read as one" in reason


def test_invalid_utf8_is_reported_at_its_byte_offset(landed: Landed) -> None:
    assert landed.batch("06-utf8.ndjson")[1:] == (2, 1, 1, 0)
    [(line_no, _, field, reason)] = landed.quarantined("06-utf8.ndjson")
    offset = len(dumps("u1")) - 3  # where the 0xff byte was put
    assert (line_no, field) == (1, None)
    assert f"byte 0xff at byte offset {offset} of the line" in reason
    assert "line 1 column 1" not in reason


def test_versions_and_timestamps_are_held_to_semver_and_rfc3339(landed: Landed) -> None:
    assert landed.batch("07-shapes.ndjson")[1:] == (3, 1, 2, 0)
    assert landed.events("07-shapes.ndjson") == ["s3"]
    rejected = landed.quarantined("07-shapes.ndjson")
    assert [(r[0], r[2]) for r in rejected] == [(1, "schema_version"), (2, "occurred_at")]
    assert "not a semver string" in rejected[0][3] and "'01.0.0'" in rejected[0][3]
    assert "decimal point without digits" in rejected[1][3]


# -- cases that need a database of their own ------------------------------------------------
def test_the_window_is_configured_in_the_environment(warehouse_url: str, tmp_path: Path) -> None:
    path = tmp_path / "history.ndjson"
    path.write_bytes(
        dumps("h1", occurred_at="1995-06-01T00:00:00Z")
        + b"\n"
        + dumps("h2", occurred_at="2026-12-04T00:00:00Z")
        + b"\n"
    )
    env = {"DWH_EARLIEST_EVENT_DATE": "1990-01-01", "DWH_FUTURE_TOLERANCE": "30d"}
    proc = dwh_ingest(warehouse_url, tmp_path / "home", path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert query(warehouse_url, "select event_id from raw.events order by 1") == [
        ("h1",),
        ("h2",),
    ]
    bad = dwh_ingest(warehouse_url, tmp_path / "home", path, env={"DWH_FUTURE_TOLERANCE": "soon"})
    assert bad.returncode == 1
    assert "DWH_FUTURE_TOLERANCE must be a duration" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_settings_reach_landing_and_its_defaults() -> None:
    settings = load_settings()
    assert settings.earliest_event_date == date(2000, 1, 1)
    assert settings.future_tolerance == timedelta(days=1)


def test_a_row_the_database_refuses_fails_its_file_alone(
    warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Validation as it was: offsets up to 23:59 pass, and COPY refuses +16:00. Whatever
    # validation misses, the file is recorded as failed, named, and the others land.
    monkeypatch.setattr(validation, "MAX_OFFSET_HOURS", 23)
    first = tmp_path / "in" / "1.ndjson"
    first.parent.mkdir()
    first.write_bytes(
        dumps("a1") + b"\n" + dumps("a2", occurred_at="2026-01-05T10:00:00.5+16:00") + b"\n"
    )
    second = tmp_path / "in" / "2.ndjson"
    second.write_bytes(dumps("b1") + b"\n")
    with psycopg.connect(warehouse_url) as conn:
        report = land(conn, [tmp_path / "in"])
    [failed] = report.failed
    assert failed.path == first
    assert "the database refused it, nothing of it landed" in (failed.error or "")
    assert "time zone displacement out of range" in (failed.error or "")
    assert [f.path for f in report.landed_files] == [second]
    assert query(warehouse_url, "select event_id from raw.events") == [("b1",)]
    [(source, error)] = query(warehouse_url, "select source_path, error from raw.load_failures")
    assert source == str(first.resolve()) and "displacement" in error
    with psycopg.connect(warehouse_url) as conn:
        assert unseen_files(conn, tmp_path / "in") == []  # not retried until it changes


def test_entries_that_are_not_regular_files_are_recorded_and_never_opened(
    warehouse_url: str, tmp_path: Path
) -> None:
    directory = tmp_path / "in"
    directory.mkdir()
    os.mkfifo(directory / "a-pipe.ndjson")  # opening it would block until someone writes
    (directory / "b-dir.ndjson").mkdir()
    (directory / "b-dir.ndjson" / "inside.ndjson").write_bytes(dumps("i1") + b"\n")
    (directory / "c-link.ndjson").symlink_to(tmp_path / "gone.ndjson")
    (directory / "d-good.ndjson").write_bytes(dumps("g1") + b"\n")
    proc = dwh_ingest(warehouse_url, tmp_path / "home", directory)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "a-pipe.ndjson: FAILED: a FIFO (named pipe)" in proc.stdout
    assert "b-dir.ndjson: FAILED: a directory named like an event file" in proc.stdout
    assert "c-link.ndjson: FAILED: a symbolic link to" in proc.stdout
    assert "2 landed, 0 already landed, 3 failed" in proc.stdout
    assert query(warehouse_url, "select event_id from raw.events order by 1") == [
        ("g1",),
        ("i1",),
    ]
    failures = query(
        warehouse_url, "select source_path, size_bytes, error from raw.load_failures order by 1"
    )
    assert [(Path(f[0]).name, f[1]) for f in failures] == [
        ("a-pipe.ndjson", 0),
        ("b-dir.ndjson", (directory / "b-dir.ndjson").stat().st_size),
        ("c-link.ndjson", None),
    ]
    assert "never opened" in failures[0][2] and "does not exist" in failures[2][2]
    with psycopg.connect(warehouse_url) as conn:
        assert unseen_files(conn, directory) == []  # recorded once, as they are now


# -- kill -9 of the loader -------------------------------------------------------------------
def _children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (read from /proc: psutil is not installed)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


def test_children_die_with_a_killed_loader_and_the_rerun_is_exact(
    warehouse_url: str, tmp_path: Path
) -> None:
    lines = 120_000  # about 30 MB: many blocks, so the loader starts its validation workers
    path = tmp_path / "big.ndjson"
    head, tail = dumps("X").split(b'"X"', 1)
    path.write_bytes(b"".join(head + b'"k%d"' % i + tail + b"\n" for i in range(lines)))
    env = {**os.environ, "DWH_DATABASE_URL": warehouse_url, "DWH_HOME": str(tmp_path / "home")}
    loader = subprocess.Popen(
        [str(DWH), "ingest", str(path)],
        env={**env, "DWH_LOAD_WORKERS": "2"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        # two workers and the multiprocessing resource tracker
        while len(_children(loader.pid)) < 3 and time.monotonic() < deadline:
            assert loader.poll() is None, "the loader finished before it could be killed"
            time.sleep(0.02)
        children = _children(loader.pid)
        assert len(children) >= 3 and loader.poll() is None
    finally:
        loader.send_signal(signal.SIGKILL)
        loader.wait()
    deadline = time.monotonic() + 5
    while any(map(_alive, children)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in children if _alive(pid)] == []

    proc = dwh_ingest(warehouse_url, tmp_path / "home", path, env={"DWH_LOAD_WORKERS": "2"})
    assert proc.returncode == 0, proc.stderr
    assert query(
        warehouse_url,
        "select count(*), count(distinct line_no), min(line_no), max(line_no) from raw.events",
    ) == [(lines, lines, 1, lines)]
    assert query(
        warehouse_url, "select lines_read, events_landed, lines_quarantined from raw.load_batches"
    ) == [(lines, lines, 0)]


def test_a_scheduled_run_records_such_entries_once(warehouse_url: str, tmp_path: Path) -> None:
    directory = tmp_path / "landing"
    directory.mkdir()
    os.mkfifo(directory / "a-pipe.ndjson")
    (directory / "b-dir.ndjson").mkdir()
    (directory / "b-dir.ndjson" / "inside.ndjson").write_bytes(dumps("i1") + b"\n")
    (directory / "c-link.ndjson").symlink_to(tmp_path / "gone.ndjson")
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        # what the sensor and the landing asset land: the FIFO and the link are passed on to
        # be recorded; the directory, which landing would walk, is recorded while listing
        files = unseen_files(conn, directory)
        assert [p.name for p in files] == ["a-pipe.ndjson", "inside.ndjson", "c-link.ndjson"]
        report = land(conn, files)
        assert [f.path.name for f in report.landed_files] == ["inside.ndjson"]
        assert [f.path.name for f in report.failed] == ["a-pipe.ndjson", "c-link.ndjson"]
        assert unseen_files(conn, directory) == []
    assert sorted(
        Path(row[0]).name
        for row in query(warehouse_url, "select source_path from raw.load_failures")
    ) == ["a-pipe.ndjson", "b-dir.ndjson", "c-link.ndjson"]
