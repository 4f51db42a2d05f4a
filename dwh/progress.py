"""What `dwh run` prints while the job runs: one line per stage, with what the stage did.

    landing: 5 files, 0.1 MB, 2,079 lines (2,053 events, 2 quarantined), 0.2 s
    dbt: 197/197 nodes: 46 built, 151 tests passed, 0 failed, 0 skipped, 28.0 s
    checks: 16/16 suites passed, 9.9 s
    published: 16 tables to gold (publication 1), 1.0 s

`RunProgress` listens to the run's Dagster events as they are stored (the instance's event
listener, called in the step's thread) and follows dbt's log file, which the dbt step writes
line by line (orchestration/dbt_output.py). On a terminal the dbt line counts up in place;
otherwise a line every `PIPE_INTERVAL` seconds, and nothing a terminal would interpret.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from warehouse import schemas
from warehouse.database import connect

LAND_STEP = "land_event_files"
DBT_STEP = "warehouse_dbt_assets"
CHECK_STEP = "validate_gold_candidates"
PUBLISH_STEP = "publish_gold"
FRESHNESS_STEP = "gold_freshness"
PIPE_INTERVAL = 10.0  # seconds between two dbt progress lines when not on a terminal
KEEP_LOGS = 50  # dbt log files kept under DWH_HOME/logs

# "12 of 197 OK created sql table model silver.int_bets ... [SELECT 40 in 0.31s]": dbt's line
# for a node that finished; hooks count on their own ("1 of 1 OK hook: ...") and are left out.
NODE_RESULT = re.compile(
    r"^(?:\d\d:\d\d:\d\d  )?(\d+) of (\d+) (OK|PASS|WARN|ERROR|FAIL|SKIP|NO-OP) (?!hook:)"
)
# what each status counts as in the dbt line
_KIND = {
    "OK": "built",
    "NO-OP": "built",
    "PASS": "passed",
    "WARN": "warned",
    "ERROR": "failed",
    "FAIL": "failed",
    "SKIP": "skipped",
}


@dataclass
class DbtCounts:
    total: int = 0
    kinds: Counter[str] = field(default_factory=Counter)

    @property
    def done(self) -> int:
        return sum(self.kinds.values())

    def summary(self) -> str:
        built, passed = self.kinds["built"], self.kinds["passed"]
        text = (
            f"{self.done}/{self.total} nodes: {built} built, {passed} tests passed, "
            f"{self.kinds['failed']} failed, {self.kinds['skipped']} skipped"
        )
        return text + (f", {self.kinds['warned']} warned" if self.kinds["warned"] else "")


class DbtLogReader:
    """Follows the dbt log file: counts the nodes dbt finished, hands back failed ones."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.counts = DbtCounts()
        self._offset = 0
        self._partial = ""

    def read(self) -> list[str]:
        """The lines of nodes that errored or failed since the last read."""
        try:
            with self.path.open("r", encoding="utf-8", errors="replace") as handle:
                handle.seek(self._offset)
                text = handle.read()
                self._offset = handle.tell()
        except FileNotFoundError:
            return []
        *lines, self._partial = (self._partial + text).split("\n")
        failed = []
        for line in lines:
            match = NODE_RESULT.match(line)
            if match is None:
                continue
            self.counts.total = int(match[2])
            kind = _KIND[match[3]]
            self.counts.kinds[kind] += 1
            if kind == "failed":
                failed.append(line.split("  ", 1)[-1].strip())
        return failed


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


class RunProgress:
    """The instance's event listener of one run (DagsterInstance.add_event_listener)."""

    def __init__(
        self,
        echo: Callable[[str], None],
        *,
        url: str,
        dbt_log: Path | None,
        terminal: bool,
        write: Callable[[str], None] | None = None,
    ) -> None:
        self.echo = echo
        self.url = url
        self.dbt = DbtLogReader(dbt_log) if dbt_log is not None else None
        self.terminal = terminal
        # a terminal's line rewritten in place (no newline): only with `write`
        self._write = write if terminal else None
        self._in_place = False
        self._last_line = 0.0
        self._started: dict[str, float] = {}
        self._metadata: dict[str, dict[str, Any]] = {}
        self._materialized: Counter[str] = Counter()
        self._checks: dict[str, list[bool]] = {}
        self._batch_before = _landed_batch(url)

    # -- output ---------------------------------------------------------------------------
    def _line(self, text: str) -> None:
        if self._in_place and self._write is not None:
            self._write("\r\x1b[K")  # a terminal: replace the counting line
            self._in_place = False
        self.echo(text)

    def _counting(self, text: str) -> None:
        now = time.monotonic()
        if self._write is not None:
            if now - self._last_line >= 0.2:
                self._write(("\r\x1b[K" if self._in_place else "") + text)
                self._in_place = True
                self._last_line = now
        elif now - self._last_line >= PIPE_INTERVAL:
            self.echo(text)
            self._last_line = now

    # -- events ---------------------------------------------------------------------------
    def __call__(self, entry: Any) -> None:
        try:
            self._handle(entry)
        except Exception as exc:  # progress must never fail the run it reports on
            self._line(f"(progress: {type(exc).__name__}: {exc})")

    def _handle(self, entry: Any) -> None:
        from dagster import DagsterEventType

        event = entry.dagster_event
        if event is None or event.step_key is None:
            return
        step, kind = event.step_key, event.event_type
        if kind == DagsterEventType.STEP_START:
            self._started[step] = entry.timestamp
            self._last_line = time.monotonic()
            if step == DBT_STEP and self.dbt is not None:
                self._line(f"dbt: building (dbt's log: {self.dbt.path})")
        elif kind == DagsterEventType.ASSET_MATERIALIZATION:
            metadata = event.event_specific_data.materialization.metadata
            self._materialized[step] += 1
            self._metadata.setdefault(step, {}).update({k: v.value for k, v in metadata.items()})
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            self._checks.setdefault(step, []).append(bool(event.event_specific_data.passed))
        if step == DBT_STEP and self.dbt is not None:
            for failed in self.dbt.read():
                self._line(f"dbt: {failed}")
            if kind not in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
                counts = self.dbt.counts
                if counts.total:
                    seconds = entry.timestamp - self._started.get(step, entry.timestamp)
                    self._counting(f"dbt: {counts.done}/{counts.total} nodes, {seconds:.0f} s")
        if kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            seconds = entry.timestamp - self._started.get(step, entry.timestamp)
            ok = kind == DagsterEventType.STEP_SUCCESS
            self._line(self._stage_line(step, ok, seconds))

    def _stage_line(self, step: str, ok: bool, seconds: float) -> str:
        metadata = self._metadata.get(step, {})
        checks = self._checks.get(step, [])
        failed = "" if ok else " FAILED"
        if step == LAND_STEP:
            # this run's batches: the step's metadata is what raw holds, every earlier run's too
            landed = landed_since(self.url, self._batch_before)
            return (
                f"landing{failed}: {landed.files} files, {_megabytes(landed.size_bytes)}, "
                f"{landed.lines:,} lines ({landed.events:,} events, "
                f"{landed.quarantined:,} quarantined), {seconds:.1f} s"
            )
        if step == DBT_STEP:
            counts = self.dbt.counts.summary() if self.dbt is not None else ""
            return f"dbt{failed}: {counts or f'{len(checks)} tests'}, {seconds:.1f} s"
        if step == CHECK_STEP:
            return (
                f"checks{failed}: {sum(checks)}/{len(checks)} suites passed, {seconds:.1f} s "
                "(Data Docs: dwh docs)"
            )
        if step == PUBLISH_STEP:
            if not ok:
                return f"published: nothing, publication FAILED after {seconds:.1f} s"
            publication = metadata.get("publication_id")
            tables = self._materialized[step]
            return (
                f"published: {tables} tables to gold (publication {publication}), {seconds:.1f} s"
            )
        if step == FRESHNESS_STEP:
            return f"freshness: {sum(checks)}/{len(checks)} marts within 5 minutes"
        return f"{step}{failed}: {seconds:.1f} s"


def _landed_batch(url: str) -> int:
    """The highest batch landed before the run (0: none, or no raw schema yet)."""
    try:
        with connect(url) as conn:
            row = conn.execute(
                f"select coalesce(max(batch_id), 0) from {schemas.RAW}.load_batches"
            ).fetchone()
    except psycopg.Error:
        return 0
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class Landed:
    """What the batches after a given one hold (finished batches only)."""

    files: int = 0
    size_bytes: int = 0
    lines: int = 0
    events: int = 0
    quarantined: int = 0


def landed_since(url: str, batch: int) -> Landed:
    """Files, stored bytes and lines landed in the batches after `batch`."""
    try:
        with connect(url) as conn:
            row = conn.execute(
                "select count(*), coalesce(sum(size_bytes), 0), coalesce(sum(lines_read), 0), "
                "coalesce(sum(events_landed), 0), coalesce(sum(lines_quarantined), 0) "
                f"from {schemas.RAW}.load_batches where batch_id > %s and finished_at is not null",
                [batch],
            ).fetchone()
    except psycopg.Error:
        return Landed()
    return Landed(*(int(value) for value in row)) if row else Landed()


def prune_logs(directory: Path, keep: int = KEEP_LOGS) -> None:
    """Keep the newest `keep` dbt logs of the directory."""
    logs = sorted(directory.glob("dbt-*.log"), key=lambda path: path.stat().st_mtime)
    for path in logs[:-keep] if keep else logs:
        path.unlink(missing_ok=True)
