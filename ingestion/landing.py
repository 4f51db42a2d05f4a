"""Landing of event files into `raw`: one file = one batch = one transaction.

- A file's identity is the sha256 of its bytes: landing the same file again is a no-op.
- Valid lines stream into raw.events through COPY; rejected lines go to raw.quarantine with the
  file, line number, field and reason. Blank lines are counted and skipped.
- Everything of a file commits together, so a crash mid-file leaves nothing and the re-run lands
  the file whole. Batches are landed one at a time (an advisory lock), so batch ids commit in
  order: the dbt models use "batch_id above the last one processed" as their watermark.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import multiprocessing
import os
import tempfile
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import psycopg

from ingestion.raw_schema import ensure_raw_schema
from ingestion.validation import BlockResult, validate_block

SUFFIXES = (".ndjson", ".ndjson.gz")
LANDING_LOCK = "dwh.landing"
_EVENT_COLUMNS = ("batch_id, line_no, event_id, event_type, occurred_at, ingested_at, tenant_id, "
                  "region, player_id, trace_id, schema_version, payload")


class LandingError(Exception):
    """A file or path that cannot be landed; the message names it and says why."""


@dataclass
class FileResult:
    path: Path
    batch_id: int | None = None
    skipped_as_batch: int | None = None
    lines_read: int = 0
    landed: int = 0
    quarantined: int = 0
    blank: int = 0
    seconds: float = 0.0
    error: str | None = None

    @property
    def lines_per_second(self) -> float:
        return self.lines_read / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        if self.error:
            return f"{self.path}: FAILED: {self.error}"
        if self.skipped_as_batch is not None:
            return f"{self.path}: already landed as batch {self.skipped_as_batch}, skipped"
        return (f"{self.path}: batch {self.batch_id}: {self.lines_read:,} lines, "
                f"{self.landed:,} landed, {self.quarantined:,} quarantined, {self.blank:,} blank, "
                f"{self.seconds:.2f} s ({self.lines_per_second:,.0f} lines/s)")


@dataclass
class LandingReport:
    files: list[FileResult] = field(default_factory=list)

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.error]

    @property
    def landed_files(self) -> list[FileResult]:
        return [f for f in self.files if f.batch_id is not None]

    def total(self, attr: str) -> int:
        return sum(getattr(f, attr) for f in self.files)


def discover(paths: Iterable[str | Path]) -> list[Path]:
    """Files to land, in a stable order: the given files, and `*.ndjson[.gz]` under directories."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and _is_event_file(p)))
        elif path.is_file():
            if not _is_event_file(path):
                raise LandingError(f"{path}: not an event file (expected *.ndjson or *.ndjson.gz)")
            found.append(path)
        elif path.exists():
            raise LandingError(f"{path}: not a regular file or directory")
        else:
            raise LandingError(f"{path}: no such file or directory")
    return found


def _is_event_file(path: Path) -> bool:
    return path.name.endswith(SUFFIXES)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


_BLOCK_BYTES = 4 << 20  # a unit of work: whole lines, about 4 MiB
_PARALLEL_MIN_BYTES = 8 << 20  # smaller files are validated in-process
_IN_FLIGHT = 4  # blocks submitted ahead of the COPY stream: bounds memory


def _blocks(path: Path, digest: Any) -> Iterator[tuple[bytes, int]]:
    """Newline-aligned blocks of the (decompressed) file, each with its first line number.

    The file's stored bytes pass through `digest` on the way, so a file is read once.
    """
    line_no = 1
    carry = b""
    with path.open("rb") as stored:
        hashing = _HashingReader(stored, digest)
        handle: Any = (gzip.GzipFile(fileobj=hashing, mode="rb")
                       if path.name.endswith(".gz") else hashing)
        while chunk := handle.read(_BLOCK_BYTES):
            chunk = carry + chunk
            cut = chunk.rfind(b"\n")
            if cut < 0:
                carry = chunk
                continue
            block, carry = chunk[: cut + 1], chunk[cut + 1 :]
            yield block, line_no
            line_no += block.count(b"\n")
        while hashing.read(1 << 20):  # bytes after the gzip stream still belong to the file
            pass
    if carry:
        yield carry, line_no


class _HashingReader(io.RawIOBase):
    """A read-only stream that feeds every byte it reads to a hash."""

    def __init__(self, inner: BinaryIO, digest: Any) -> None:
        self._inner = inner
        self._digest = digest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        self._digest.update(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _validated(path: Path, batch_id: int, source: str, pool: Executor | None,
               digest: Any) -> Iterator[BlockResult]:
    """Validated blocks in file order; on a pool, a few blocks ahead of the consumer."""
    blocks = _blocks(path, digest)
    if pool is None:
        for block, first in blocks:
            yield validate_block(block, first, batch_id, source)
        return
    pending: deque[Future[BlockResult]] = deque()
    for block, first in blocks:
        pending.append(pool.submit(validate_block, block, first, batch_id, source))
        if len(pending) >= _IN_FLIGHT:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def land_file(conn: psycopg.Connection, path: Path, pool: Executor | None = None) -> FileResult:
    """Land one file in its own transaction. Raises LandingError if the file is unreadable."""
    result = FileResult(path=path)
    started = time.perf_counter()
    try:
        stat = path.stat()
        size = stat.st_size
        mtime = datetime.fromtimestamp(stat.st_mtime, tz=UTC)
        with path.open("rb"):
            pass
    except OSError as exc:
        raise LandingError(f"{path}: cannot read: {exc.strerror or exc}") from exc

    source = str(path.resolve())
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext(%s))", [LANDING_LOCK])
        # Only a file of the same size can be the same file: hash it up front then, so that a
        # re-run skips it without parsing; otherwise the hash is taken while streaming.
        cur.execute("select sha256, batch_id from raw.load_batches where size_bytes = %s",
                    [size])
        same_size = {sha: int(batch) for sha, batch in cur.fetchall()}
        if same_size:
            try:
                sha = file_sha256(path)
            except OSError as exc:
                raise LandingError(f"{path}: cannot read: {exc.strerror or exc}") from exc
            if sha in same_size:
                result.skipped_as_batch = same_size[sha]
                result.seconds = time.perf_counter() - started
                return result
        cur.execute(
            "insert into raw.load_batches (source_path, file_name, size_bytes, source_mtime) "
            "values (%s, %s, %s, %s) returning batch_id",
            [source, path.name, size, mtime],
        )
        batch_id = int(cur.fetchone()[0])  # type: ignore[index]
        use_pool = pool if size >= _PARALLEL_MIN_BYTES else None
        digest = hashlib.sha256()
        with tempfile.TemporaryFile("w+", encoding="utf-8") as rejected:
            try:
                with cur.copy(f"copy raw.events ({_EVENT_COLUMNS}) from stdin") as copy:
                    for block in _validated(path, batch_id, source, use_pool, digest):
                        if block.events_copy:
                            copy.write(block.events_copy)
                        if block.quarantine_copy:
                            rejected.write(block.quarantine_copy)
                        result.lines_read += block.lines
                        result.blank += block.blank
                        result.quarantined += block.rejected
            except (OSError, EOFError, zlib.error) as exc:
                raise LandingError(
                    f"{path}: cannot read after line {result.lines_read}: {exc}") from exc
            result.landed = result.lines_read - result.quarantined - result.blank
            if result.quarantined:
                rejected.seek(0)
                with cur.copy("copy raw.quarantine (batch_id, line_no, source_file, field, "
                              "reason, raw_line) from stdin") as copy:
                    while chunk := rejected.read(1 << 20):
                        copy.write(chunk)

        cur.execute(
            "update raw.load_batches set sha256 = %s, lines_read = %s, events_landed = %s, "
            "lines_quarantined = %s, blank_lines = %s, finished_at = clock_timestamp() "
            "where batch_id = %s",
            [digest.hexdigest(), result.lines_read, result.landed, result.quarantined,
             result.blank, batch_id],
        )
        result.batch_id = batch_id
    result.seconds = time.perf_counter() - started
    return result


def land(conn: psycopg.Connection, paths: Iterable[str | Path],
         echo: Callable[[str], None] | None = None) -> LandingReport:
    """Land every file under `paths`; an unreadable file is reported and the others go on."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        # Inside an open transaction every file's transaction would be a mere savepoint, and
        # nothing would commit file by file.
        raise ValueError("land() needs a connection outside a transaction (e.g. autocommit)")
    files = discover(paths)
    ensure_raw_schema(conn)
    report = LandingReport()
    workers = _workers()
    big = any(_size(p) >= _PARALLEL_MIN_BYTES for p in files)
    # Spawned (not forked) workers: the loader also runs inside Dagster, which has threads.
    pool = (ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            if big and workers > 1 else None)
    try:
        for path in files:
            try:
                result = land_file(conn, path, pool)
            except LandingError as exc:
                result = FileResult(path=path, error=str(exc).removeprefix(f"{path}: "))
                _record_failure(conn, path, result.error or "")
            report.files.append(result)
            if echo is not None:
                echo(result.summary())
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    if report.landed_files:
        # Statistics for the models that read the new rows next (autovacuum may lag).
        conn.execute("analyze raw.events")
        conn.execute("analyze raw.load_batches")
        conn.commit()
    return report


def _workers() -> int:
    configured = os.environ.get("DWH_LOAD_WORKERS")
    return int(configured) if configured else min(4, os.cpu_count() or 1)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _record_failure(conn: psycopg.Connection, path: Path, error: str) -> None:
    size, mtime = _stat(path)
    with conn.transaction():
        conn.execute(
            "insert into raw.load_failures (source_path, size_bytes, source_mtime, error) "
            "values (%s, %s, %s, %s)",
            [str(path.resolve()) if path.exists() else os.fspath(path), size, mtime, error],
        )


def _stat(path: Path) -> tuple[int | None, datetime | None]:
    try:
        stat = path.stat()
    except OSError:
        return None, None
    return stat.st_size, datetime.fromtimestamp(stat.st_mtime, tz=UTC)


def unseen_files(conn: psycopg.Connection, directory: Path) -> list[Path]:
    """Event files under `directory` not yet landed or failed as they are now (same path, size
    and modification time): what a scheduled run or sensor should land. A file that failed is
    retried once it changes."""
    if not directory.is_dir():
        return []
    ensure_raw_schema(conn)
    seen = {
        (row[0], row[1], row[2])
        for row in conn.execute(
            "select source_path, size_bytes, source_mtime from raw.load_batches "
            "union select source_path, size_bytes, source_mtime from raw.load_failures"
        )
    }
    fresh = []
    for path in discover([directory]):
        size, mtime = _stat(path)
        if (str(path.resolve()), size, mtime) not in seen:
            fresh.append(path)
    return fresh
