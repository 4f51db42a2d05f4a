"""Landing into raw: accounting, idempotency, atomicity, and clear errors for bad input."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

import orjson
import psycopg
import pytest

from ingestion import landing
from ingestion.landing import land
from ingestion.raw_schema import ensure_raw_schema
from tests.events import event, query, write_events


def _mixed_lines() -> list[object]:
    return [
        event("bet.placed", "2026-01-01 10:00:00", event_id="a", bet_id="b1", stake_minor=100),
        "",
        "{not json",
        event("session.started", "2026-01-01 10:01:00", event_id="b", session_id="s1"),
        "[1, 2]",
        "   ",
        orjson.dumps(
            {
                **event("session.ended", "2026-01-01 10:02:00", event_id="c"),
                "schema_version": "2.1.0",
            }
        ),
        event("session.started", "2026-01-01 10:03:00", event_id="d", session_id="s2"),
    ]


def test_every_line_ends_in_raw_or_quarantine_with_file_line_and_reason(
    warehouse_url: str, tmp_path: Path
) -> None:
    path = write_events(tmp_path / "batch-1.ndjson", _mixed_lines())
    with psycopg.connect(warehouse_url) as conn:
        report = land(conn, [path])
    [result] = report.files
    assert (result.lines_read, result.landed, result.quarantined, result.blank) == (8, 3, 3, 2)

    assert query(warehouse_url, "select line_no, event_id from raw.events order by 1") == [
        (1, "a"),
        (4, "b"),
        (8, "d"),
    ]
    quarantined = query(
        warehouse_url,
        "select line_no, source_file, field, reason, raw_line from raw.quarantine order by 1",
    )
    assert [(q[0], q[2]) for q in quarantined] == [(3, None), (5, None), (7, "schema_version")]
    assert all(q[1] == str(path.resolve()) for q in quarantined)
    assert "not valid JSON" in quarantined[0][3] and quarantined[0][4] == "{not json"
    assert "JSON array" in quarantined[1][3]
    assert "major must be 1" in quarantined[2][3]
    assert query(
        warehouse_url,
        "select lines_read, events_landed, lines_quarantined, "
        "blank_lines, sha256 is not null from raw.load_batches",
    ) == [(8, 3, 3, 2, True)]


def test_landing_the_same_content_again_is_a_no_op(warehouse_url: str, tmp_path: Path) -> None:
    path = write_events(tmp_path / "a.ndjson.gz", _mixed_lines())
    copy = tmp_path / "elsewhere" / "renamed.ndjson.gz"
    copy.parent.mkdir()
    copy.write_bytes(path.read_bytes())
    with psycopg.connect(warehouse_url) as conn:
        first = land(conn, [path])
        again = land(conn, [path, copy])
    assert first.files[0].batch_id == 1
    assert [f.skipped_as_batch for f in again.files] == [1, 1]
    assert query(warehouse_url, "select count(*) from raw.events") == [(3,)]
    assert query(warehouse_url, "select count(*) from raw.quarantine") == [(3,)]
    assert query(warehouse_url, "select count(*) from raw.load_batches") == [(1,)]


def test_a_touched_or_copied_landed_file_is_skipped_once_and_is_then_no_new_file(
    warehouse_url: str, tmp_path: Path
) -> None:
    directory = tmp_path / "in"
    path = write_events(directory / "a.ndjson", _mixed_lines())
    size = path.stat().st_size
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        assert land(conn, [directory]).files[0].batch_id == 1
        assert landing.unseen_files(conn, directory) == []
        # the same bytes under a new modification time, and under a second name
        os.utime(path, (1_800_000_000, 1_800_000_000))
        copy = directory / "b.ndjson"
        copy.write_bytes(path.read_bytes())
        os.utime(copy, (1_800_000_100, 1_800_000_100))
        assert landing.unseen_files(conn, directory) == [path, copy]
        again = land(conn, landing.unseen_files(conn, directory))
        assert [f.skipped_as_batch for f in again.files] == [1, 1]
        # recorded as they are now: no longer new to a scheduled run
        assert landing.unseen_files(conn, directory) == []
        land(conn, [directory])  # skipping them again records nothing more
        # touched once more: new again, hashed again, skipped again
        os.utime(copy, (1_800_000_200, 1_800_000_200))
        assert landing.unseen_files(conn, directory) == [copy]
        land(conn, [copy])
        assert landing.unseen_files(conn, directory) == []
    assert query(
        warehouse_url,
        "select source_path, size_bytes, extract(epoch from source_mtime), same_as_batch "
        "from raw.load_skips order by skip_id",
    ) == [
        (str(path.resolve()), size, 1_800_000_000, 1),
        (str(copy.resolve()), size, 1_800_000_100, 1),
        (str(copy.resolve()), size, 1_800_000_200, 1),
    ]
    assert query(warehouse_url, "select count(*) from raw.load_batches") == [(1,)]


def test_gzip_and_plain_files_land_the_same_rows(warehouse_url: str, tmp_path: Path) -> None:
    events = [
        event("session.started", "2026-01-02 00:00:00", event_id=f"g{i}", session_id=f"s{i}")
        for i in range(3)
    ]
    plain = write_events(tmp_path / "p" / "x.ndjson", events)
    zipped = write_events(tmp_path / "z" / "x.ndjson.gz", [*events, "extra line"])
    with psycopg.connect(warehouse_url) as conn:
        land(conn, [plain, zipped])
    rows = query(warehouse_url, "select batch_id, line_no, event_id from raw.events order by 1, 2")
    assert rows == [
        (1, 1, "g0"),
        (1, 2, "g1"),
        (1, 3, "g2"),
        (2, 1, "g0"),
        (2, 2, "g1"),
        (2, 3, "g2"),
    ]
    assert query(warehouse_url, "select batch_id, line_no from raw.quarantine") == [(2, 4)]


def test_a_corrupt_file_is_reported_and_the_others_land(warehouse_url: str, tmp_path: Path) -> None:
    good = write_events(tmp_path / "in" / "a.ndjson", [event("craft.complete", "2026-01-01")])
    bad = tmp_path / "in" / "b.ndjson.gz"
    content = b"".join(orjson.dumps({"n": os.urandom(16).hex()}) + b"\n" for _ in range(2000))
    compressed = gzip.compress(content)
    bad.write_bytes(compressed[: len(compressed) // 2])  # a gzip stream cut in the middle
    with psycopg.connect(warehouse_url) as conn:
        report = land(conn, [tmp_path / "in"])
    assert [f.path.name for f in report.landed_files] == ["a.ndjson"]
    [failed] = report.failed
    assert failed.path == bad and "cannot read" in (failed.error or "")
    assert query(warehouse_url, "select count(*) from raw.events") == [(1,)]
    assert query(warehouse_url, "select source_path from raw.load_failures") == [
        (str(bad.resolve()),)
    ]
    assert good.exists()


def _dwh(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dwh.cli", *args],
        text=True,
        capture_output=True,
        env=env or dict(os.environ),
        check=False,
    )


def test_cli_names_a_bad_path_and_exits_non_zero_without_a_traceback(
    warehouse_url: str, tmp_path: Path
) -> None:
    proc = _dwh("ingest", str(tmp_path / "missing.ndjson"))
    assert proc.returncode == 2
    assert "missing.ndjson: no such file or directory" in proc.stderr
    assert "Traceback" not in proc.stderr

    other = tmp_path / "notes.txt"
    other.write_text("hello")
    proc = _dwh("ingest", str(other))
    assert proc.returncode == 2 and "not an event file" in proc.stderr


def test_cli_prints_a_summary_per_file(warehouse_url: str, tmp_path: Path) -> None:
    path = write_events(tmp_path / "day.ndjson", _mixed_lines())
    proc = _dwh("ingest", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "batch 1: 8 lines, 3 landed, 3 quarantined, 2 blank" in proc.stdout
    proc = _dwh("ingest", str(path))
    assert "already landed as batch 1, skipped" in proc.stdout


def _big_file(path: Path, lines: int) -> Path:
    template = event(
        "bet.placed",
        "2026-01-01 10:00:00",
        event_id="X",
        bet_id="b",
        game_id="g",
        provider_id="p",
        stake_minor=100,
        currency="EUR",
        in_bonus=False,
    )
    head, tail = orjson.dumps(template).split(b'"X"', 1)
    with path.open("wb") as out:
        for start in range(0, lines, 10_000):
            out.write(
                b"".join(
                    head + f'"e{i}"'.encode() + tail + b"\n"
                    for i in range(start, min(start + 10_000, lines))
                )
            )
    return path


def test_a_loader_killed_mid_file_leaves_nothing_and_the_rerun_lands_it_whole(
    warehouse_url: str, tmp_path: Path
) -> None:
    lines = 400_000
    path = _big_file(tmp_path / "big.ndjson", lines)
    env = dict(os.environ, DWH_LOAD_WORKERS="1")
    with psycopg.connect(warehouse_url) as conn:
        ensure_raw_schema(conn)  # so that the progress query below can name raw.events
    loader = subprocess.Popen(
        [sys.executable, "-m", "dwh.cli", "ingest", str(path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    copied = 0
    deadline = time.monotonic() + 60
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        while time.monotonic() < deadline and loader.poll() is None:
            row = conn.execute(
                "select tuples_processed from pg_stat_progress_copy "
                "where relid = 'raw.events'::regclass"
            ).fetchone()
            if row and row[0] > 0:
                copied = row[0]
                break
            time.sleep(0.01)
        assert loader.poll() is None, "the loader finished before it could be killed"
        loader.send_signal(signal.SIGKILL)
        loader.wait()
        assert 0 < copied < lines
        # the server aborts the dead client's transaction
        for _ in range(500):
            busy = conn.execute(
                "select count(*) from pg_stat_activity "
                "where query like 'copy raw.events%%' and pid <> "
                "pg_backend_pid()"
            ).fetchone()
            if busy == (0,):
                break
            time.sleep(0.02)
    assert query(warehouse_url, "select count(*) from raw.events") == [(0,)]
    assert query(warehouse_url, "select count(*) from raw.load_batches") == [(0,)]

    proc = _dwh("ingest", str(path), env=env)
    assert proc.returncode == 0, proc.stderr
    assert query(
        warehouse_url,
        "select count(*), count(distinct line_no), min(line_no), max(line_no) from raw.events",
    ) == [(lines, lines, 1, lines)]
    assert query(warehouse_url, "select lines_read, events_landed from raw.load_batches") == [
        (lines, lines)
    ]


def _many_lines(count: int) -> list[object]:
    """Events with a rejected line every 97 lines and a blank one every 89."""
    lines: list[object] = []
    for i in range(1, count + 1):
        if i % 97 == 0:
            lines.append("{broken")
        elif i % 89 == 0:
            lines.append("")
        else:
            lines.append(
                event(
                    "session.started", "2026-01-01 10:00:00", event_id=f"m{i}", session_id=f"s{i}"
                )
            )
    return lines


def test_files_of_many_blocks_land_through_the_workers_in_order(
    warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small blocks, so that these files are many blocks each and go to the worker processes,
    # and the reader runs ahead into the next file while one is landing.
    monkeypatch.setattr("ingestion.landing._BLOCK_BYTES", 4096)
    monkeypatch.setenv("DWH_LOAD_WORKERS", "2")
    pools: list[Executor | None] = []
    real_get = landing._LazyPool.get
    monkeypatch.setattr(
        landing._LazyPool, "get", lambda self: pools.append(real_get(self)) or pools[-1]
    )
    lines = 3000
    first = write_events(tmp_path / "in" / "1.ndjson.gz", _many_lines(lines))
    # the same bytes again: skipped, although the reader has read it ahead
    (tmp_path / "in" / "2.ndjson.gz").write_bytes(first.read_bytes())
    write_events(tmp_path / "in" / "3.ndjson", _many_lines(lines))
    with psycopg.connect(warehouse_url) as conn:
        report = land(conn, [tmp_path / "in"])
    assert pools and all(isinstance(p, ProcessPoolExecutor) for p in pools)
    assert [(f.batch_id, f.skipped_as_batch) for f in report.files] == [
        (1, None),
        (None, 1),
        (2, None),
    ]
    bad, blank = lines // 97, lines // 89 - lines // (89 * 97)
    for result in report.landed_files:
        assert (result.lines_read, result.quarantined, result.blank) == (lines, bad, blank)
    expected = [n for n in range(1, lines + 1) if n % 97 and n % 89]
    for batch in (1, 2):
        rows = query(
            warehouse_url,
            "select line_no, event_id from raw.events where batch_id = %s order by line_no",
            [batch],
        )
        assert rows == [(n, f"m{n}") for n in expected]
        assert query(
            warehouse_url,
            "select line_no from raw.quarantine where batch_id = %s order by 1",
            [batch],
        ) == [(n,) for n in range(97, lines + 1, 97)]


def test_a_file_cut_short_after_many_blocks_fails_alone(
    warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ingestion.landing._BLOCK_BYTES", 4096)
    monkeypatch.setenv("DWH_LOAD_WORKERS", "2")
    cut = write_events(tmp_path / "in" / "1.ndjson.gz", _many_lines(3000))
    cut.write_bytes(cut.read_bytes()[:-2000])
    write_events(tmp_path / "in" / "2.ndjson.gz", _many_lines(300))
    with psycopg.connect(warehouse_url) as conn:
        report = land(conn, [tmp_path / "in"])
    [failed] = report.failed
    assert failed.path == cut
    lines_before = int((failed.error or "").split("cannot read after line ")[1].split(":")[0])
    assert 0 < lines_before < 3000
    assert [f.path.name for f in report.landed_files] == ["2.ndjson.gz"]
    assert query(warehouse_url, "select count(*) from raw.events") == [(300 - 3 - 3,)]
    assert query(warehouse_url, "select count(*) from raw.load_batches") == [(1,)]


def test_lines_longer_than_a_block_keep_their_numbers(
    warehouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ingestion.landing._BLOCK_BYTES", 4096)
    long = [
        event("session.started", "2026-01-01 10:00:00", event_id=f"L{i}", note="x" * 20_000)
        for i in (2, 4)
    ]
    short = [event("session.started", "2026-01-01 10:00:00", event_id=f"s{i}") for i in (1, 3)]
    path = tmp_path / "long.ndjson"
    lines = [orjson.dumps(e) for e in (short[0], long[0], short[1], long[1])]
    path.write_bytes(b"\n".join(lines))  # the last line has no newline either
    with psycopg.connect(warehouse_url) as conn:
        [result] = land(conn, [path]).files
    assert (result.lines_read, result.landed) == (4, 4)
    assert query(warehouse_url, "select line_no, event_id from raw.events order by 1") == [
        (1, "s1"),
        (2, "L2"),
        (3, "s3"),
        (4, "L4"),
    ]
