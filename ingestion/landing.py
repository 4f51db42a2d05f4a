"""Landing of event files into `raw`: one file = one batch = one transaction.

- A file's identity is the sha256 of its bytes: landing the same file again is a no-op.
- Valid lines stream into raw.events through COPY; rejected lines go to raw.quarantine with the
  file, line number, field and reason. Blank lines are counted and skipped.
- Everything of a file commits together, so a crash mid-file leaves nothing and the re-run lands
  the file whole. Batches are landed one at a time (an advisory lock), so batch ids commit in
  order: the dbt models use "batch_id above the last one processed" as their watermark.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import itertools
import multiprocessing
import os
import queue
import stat
import tempfile
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import BrokenExecutor, Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import psycopg

from ingestion.raw_schema import ensure_raw_schema
from ingestion.validation import (
    BlockResult,
    EventWindow,
    init_worker,
    validate_block,
    with_batch,
)
from warehouse.settings import Settings, load_settings

SUFFIXES = (".ndjson", ".ndjson.gz")
LANDING_LOCK = "dwh.landing"
_EVENT_COLUMNS = (
    "batch_id, line_no, event_id, event_type, occurred_at, ingested_at, tenant_id, "
    "region, player_id, trace_id, schema_version, payload"
)


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
        return (
            f"{self.path}: batch {self.batch_id}: {self.lines_read:,} lines, "
            f"{self.landed:,} landed, {self.quarantined:,} quarantined, {self.blank:,} blank, "
            f"{self.seconds:.2f} s ({self.lines_per_second:,.0f} lines/s)"
        )


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
    return scan(paths)[0]


def scan(paths: Iterable[str | Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The files to land (as `discover`), and the entries named like event files that are not
    regular files (a FIFO, a directory, a dangling symlink), each with why it is skipped.

    Nothing here opens a file: a FIFO would block the landing until someone writes to it.
    Raises LandingError for a given path that does not exist or is not named like an event file.
    """
    found: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for entry in sorted(path.rglob("*")):
                if not _is_event_file(entry):
                    continue
                problem = _not_regular(entry)
                if problem is None:
                    found.append(entry)
                else:
                    skipped.append((entry, problem))
        elif not _is_event_file(path) and (path.exists() or path.is_symlink()):
            raise LandingError(f"{path}: not an event file (expected *.ndjson or *.ndjson.gz)")
        elif path.is_file():
            found.append(path)
        elif path.exists() or path.is_symlink():
            skipped.append((path, _not_regular(path) or "not a regular file"))
        else:
            raise LandingError(f"{path}: no such file or directory")
    return found, skipped


def _is_event_file(path: Path) -> bool:
    return path.name.endswith(SUFFIXES)


def _not_regular(path: Path) -> str | None:
    """None for a regular file (or a symlink to one), else why the entry cannot be landed."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if path.is_symlink():
            return f"a symbolic link to {os.readlink(path)!r}, which does not exist: skipped"
        return f"cannot be read: {exc.strerror or exc}: skipped"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory named like an event file: skipped (event files in it are landed)"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe), not a regular file: skipped, never opened"
    return "not a regular file (a socket or a device): skipped, never opened"


def _open_regular(path: Path) -> BinaryIO:
    """Open a file for reading only if it is a regular file. O_NONBLOCK: opening a FIFO (one
    that replaced the file since it was listed) returns at once instead of waiting for a
    writer; on a regular file it changes nothing."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with _open_regular(path) as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


_BLOCK_BYTES = 2 << 20  # a unit of work: whole lines, about 2 MiB (decompressed)
# Blocks read ahead of the COPY (being validated, or waiting to be written): bounds memory, and
# covers the COPY's drain and commit at the end of a file with work on the next file.
_READ_AHEAD = 8


class _LazyPool:
    """Validation workers, started when the first file of more than one block needs them.

    Whether a file is big is only known while reading it: a gzip file's stored size says
    little about its content (the benchmark's files are 7 MB that hold 43 MB of lines). Small
    landings (a sensor's few files, the tests) never pay the start-up of the processes.
    """

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._parent = os.getpid()
        self._pool: ProcessPoolExecutor | None = None

    @property
    def started(self) -> bool:
        return self._pool is not None

    def get(self) -> Executor | None:
        if self._workers < 2:
            return None
        if self._pool is None:
            # Spawned (not forked) workers: the loader also runs inside Dagster, which has
            # threads.
            self._pool = ProcessPoolExecutor(
                self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=init_worker,
                # so that the workers exit when this process dies, even by SIGKILL
                initargs=(self._parent,),
            )
        return self._pool

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


def _blocks(path: Path, digest: Any) -> Iterator[tuple[bytes, int]]:
    """Newline-aligned blocks of the (decompressed) file, each with its first line number.

    The file's stored bytes pass through `digest` on the way, so a file is read once.
    """
    line_no = 1
    carry = b""
    # The pieces of a line longer than a block: joined once its end is read, not at each read
    # (which made a file without a newline, or with lone CRs, quadratic in its size).
    pieces: list[bytes] = []
    with _open_regular(path) as stored:
        hashing = _HashingReader(stored, digest)
        handle: Any = (
            gzip.GzipFile(fileobj=hashing, mode="rb") if path.name.endswith(".gz") else hashing
        )
        while chunk := handle.read(_BLOCK_BYTES):
            cut = chunk.rfind(b"\n")
            if cut < 0:
                pieces.append(chunk)
                continue
            if pieces:
                carry = b"".join([carry, *pieces])
                pieces.clear()
            block, carry = carry + chunk[: cut + 1], chunk[cut + 1 :]
            yield block, line_no
            line_no += block.count(b"\n")
        while hashing.read(1 << 20):  # bytes after the gzip stream still belong to the file
            pass
    carry = b"".join([carry, *pieces])
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


class _Stopped(Exception):
    """The reader was told to stop."""


class _ValidationFailed(Exception):
    """Validating a block raised (validation quarantines what it refuses, so this is a bug)."""


@dataclass
class _FileStream:
    """One file's validated blocks, in order, as the reader produces them. Items:
    ("block", Future[BlockResult]), then one of ("end", sha256 hex), ("error", the error that
    reading the file raised), ("dropped", None) or ("stopped", what stopped the reader)."""

    path: Path
    items: queue.SimpleQueue[tuple[str, Any]] = field(default_factory=queue.SimpleQueue)
    # Set when the file may be read: at once, unless it may turn out to be landed already.
    go: threading.Event = field(default_factory=threading.Event)
    dropped: bool = False  # the file will not be landed: the reader stops reading it
    finished: bool = False  # the consumer has taken the last item
    sha256: str | None = None  # of the stored bytes, once all of them have been read


class _Reader:
    """Reads, hashes and decompresses the files in landing order in a background thread, and
    submits their blocks for validation ahead of the COPY.

    The reader runs ahead across files: while one file's COPY drains and commits, the next
    file's first blocks are already being validated. Reading file by file left the workers
    idle during each drain and the server idle until each file's first block was validated.
    So blocks carry no batch id (it does not exist yet): `with_batch` adds it when writing.
    Decompression (zlib) and hashing release the GIL, so the thread costs the main thread
    little. At most `_READ_AHEAD` blocks are out at a time.

    A file of the same size as one landed before may be skipped: the reader waits for the
    landing to decide (`go`) rather than read it ahead, so a re-run only hashes its files.
    """

    def __init__(
        self, files: list[Path], pools: _LazyPool, hold: set[Path], window: EventWindow
    ) -> None:
        self._window = window
        streams = [_FileStream(path) for path in files]
        for stream in streams:
            if stream.path not in hold:
                stream.go.set()
        self._streams = deque(streams)
        self._pools = pools
        self._slots = threading.Semaphore(_READ_AHEAD)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(streams,), name="dwh-landing-reader", daemon=True
        )
        self._thread.start()

    def take(self, path: Path) -> _FileStream:
        """The next file's stream; files are taken in the order the reader was given them."""
        stream = self._streams.popleft()
        if stream.path != path:
            raise ValueError(f"files out of order: landing {path}, read {stream.path}")
        return stream

    def results(self, stream: _FileStream) -> Iterator[BlockResult]:
        """The file's validated blocks in order, then `stream.sha256` is set. Raises what
        reading the file raised, after the blocks read before it."""
        stream.go.set()
        while not stream.finished:
            kind, value = stream.items.get()
            if kind == "block":
                try:
                    result = value.result()
                except BrokenExecutor:
                    raise  # a worker died: not the file's fault, so not recorded as its failure
                except Exception as exc:
                    raise _ValidationFailed(f"{type(exc).__name__}: {exc}") from exc
                finally:
                    self._slots.release()
                yield result
                continue
            stream.finished = True
            if kind == "end":
                stream.sha256 = value
            elif kind == "error":
                raise value
            else:
                raise RuntimeError(f"{stream.path}: the reader stopped") from value

    def discard(self, stream: _FileStream) -> None:
        """Drop what is left of a file's stream (the file was skipped or failed, or landed),
        so that the reader goes on to the next file."""
        stream.dropped = True
        stream.go.set()
        while not stream.finished:
            kind, value = stream.items.get()
            if kind == "block":
                value.cancel()
                self._slots.release()
            else:
                stream.finished = True

    def _run(self, streams: list[_FileStream]) -> None:
        ended = 0
        failure: BaseException | None = None
        try:
            for stream in streams:
                self._wait(stream.go)
                if stream.dropped:
                    stream.items.put(("dropped", None))
                else:
                    self._read(stream)
                ended += 1
        except _Stopped:
            pass
        except BaseException as exc:  # a bug or a broken pool: the consumer raises it
            failure = exc
        finally:
            # Whatever happened, every stream gets an end, so that no consumer waits forever.
            for stream in streams[ended:]:
                stream.items.put(("stopped", failure))

    def _read(self, stream: _FileStream) -> None:
        source = str(stream.path.resolve())
        digest = hashlib.sha256()
        try:
            with contextlib.closing(_blocks(stream.path, digest)) as blocks:
                # A file of a single block is validated here: a round trip to a worker (or
                # starting the workers) would only add to it.
                head = list(itertools.islice(blocks, 2))
                pool = self._pools.get() if len(head) > 1 or self._pools.started else None
                for block, first in itertools.chain(head, blocks):
                    self._acquire()
                    if stream.dropped:
                        self._slots.release()
                        stream.items.put(("dropped", None))
                        return
                    future: Future[BlockResult]
                    if pool is not None:
                        future = pool.submit(validate_block, block, first, source, self._window)
                    else:
                        future = Future()
                        try:
                            future.set_result(validate_block(block, first, source, self._window))
                        except Exception as exc:
                            future.set_exception(exc)
                    stream.items.put(("block", future))
        except (OSError, EOFError, zlib.error) as exc:
            stream.items.put(("error", exc))
        else:
            stream.items.put(("end", digest.hexdigest()))

    def _acquire(self) -> None:
        while not self._slots.acquire(timeout=0.1):
            if self._stop.is_set():
                raise _Stopped
        if self._stop.is_set():
            self._slots.release()
            raise _Stopped

    def _wait(self, event: threading.Event) -> None:
        while not event.wait(timeout=0.1):
            if self._stop.is_set():
                raise _Stopped
        if self._stop.is_set():
            raise _Stopped

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def land_file(
    conn: psycopg.Connection,
    path: Path,
    reader: _Reader | None = None,
    settings: Settings | None = None,
) -> FileResult:
    """Land one file in its own transaction. Raises LandingError if the file is unreadable or
    the database refuses it (then nothing of it is in raw).

    `reader` is the one `land` reads all its files with; without it the file is read here
    (with `settings`, by default those of the environment).
    """
    if reader is None:
        settings = settings or load_settings()
        pools = _LazyPool(_workers(settings))
        reader = _Reader([path], pools, hold={path}, window=_window(settings))
        try:
            return land_file(conn, path, reader)
        finally:
            reader.close()
            pools.shutdown()
    stream = reader.take(path)
    try:
        return _land_stream(conn, path, stream, reader)
    finally:
        reader.discard(stream)


def _land_stream(
    conn: psycopg.Connection, path: Path, stream: _FileStream, reader: _Reader
) -> FileResult:
    """Land one file from its stream: the batch row, COPY of its rows, quarantine, accounting."""
    result = FileResult(path=path)
    started = time.perf_counter()
    try:
        info = path.stat()
        size = info.st_size
        mtime = datetime.fromtimestamp(info.st_mtime, tz=UTC)
        with _open_regular(path):
            pass
    except OSError as exc:
        raise LandingError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        return _land_batch(conn, path, stream, reader, result, size, mtime, started)
    except (psycopg.errors.DataError, psycopg.errors.IntegrityError) as exc:
        # Validation lets through only what the database stores, so this is a gap in it: the
        # file's transaction is rolled back, the file is reported, and the other files land.
        raise LandingError(
            f"{path}: the database refused it, nothing of it landed: {_pg(exc)}"
        ) from exc
    except psycopg.errors.ProgramLimitExceeded as exc:
        raise LandingError(
            f"{path}: too large for the database, nothing landed: {_pg(exc)}"
        ) from exc
    except _ValidationFailed as exc:
        raise LandingError(f"{path}: validation failed, nothing of it landed: {exc}") from exc


def _pg(exc: psycopg.Error) -> str:
    """A database error as one line: its message and where in the COPY (row, column, value)."""
    message = exc.diag.message_primary or str(exc)
    where = (exc.diag.context or "").strip().splitlines()
    return f"{message} ({where[0][:300]})" if where else message


def _land_batch(
    conn: psycopg.Connection,
    path: Path,
    stream: _FileStream,
    reader: _Reader,
    result: FileResult,
    size: int,
    mtime: datetime,
    started: float,
) -> FileResult:
    source = str(path.resolve())
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext(%s))", [LANDING_LOCK])
        # Only a file of the same size can be the same file: hash it up front then, so that a
        # re-run skips it without landing it; otherwise the hash is taken while streaming.
        cur.execute("select sha256, batch_id from raw.load_batches where size_bytes = %s", [size])
        same_size = {sha: int(batch) for sha, batch in cur.fetchall()}
        if same_size:
            try:
                sha = file_sha256(path)
            except OSError as exc:
                raise LandingError(f"{path}: cannot read: {exc.strerror or exc}") from exc
            if sha in same_size:
                result.skipped_as_batch = same_size[sha]
                _record_skip(cur, source, size, mtime, same_size[sha])
                result.seconds = time.perf_counter() - started
                return result
        cur.execute(
            "insert into raw.load_batches (source_path, file_name, size_bytes, source_mtime) "
            "values (%s, %s, %s, %s) returning batch_id",
            [source, path.name, size, mtime],
        )
        batch_id = int(cur.fetchone()[0])  # type: ignore[index]
        # The rows are UTF-8 bytes whatever the connection's client encoding.
        with tempfile.TemporaryFile("w+b") as rejected:
            try:
                with cur.copy(
                    f"copy raw.events ({_EVENT_COLUMNS}) from stdin (encoding 'utf8')"
                ) as copy:
                    for block in reader.results(stream):
                        if block.events_copy:
                            copy.write(with_batch(block.events_copy, batch_id))
                        if block.quarantine_copy:
                            rejected.write(with_batch(block.quarantine_copy, batch_id))
                        result.lines_read += block.lines
                        result.blank += block.blank
                        result.quarantined += block.rejected
            except (OSError, EOFError, zlib.error) as exc:
                raise LandingError(
                    f"{path}: cannot read after line {result.lines_read}: {exc}"
                ) from exc
            result.landed = result.lines_read - result.quarantined - result.blank
            if result.quarantined:
                rejected.seek(0)
                with cur.copy(
                    "copy raw.quarantine (batch_id, line_no, source_file, field, "
                    "reason, raw_line) from stdin (encoding 'utf8')"
                ) as copy:
                    while chunk := rejected.read(1 << 20):
                        copy.write(chunk)

        cur.execute(
            "update raw.load_batches set sha256 = %s, lines_read = %s, events_landed = %s, "
            "lines_quarantined = %s, blank_lines = %s, finished_at = clock_timestamp() "
            "where batch_id = %s",
            [
                stream.sha256,
                result.lines_read,
                result.landed,
                result.quarantined,
                result.blank,
                batch_id,
            ],
        )
        result.batch_id = batch_id
    result.seconds = time.perf_counter() - started
    return result


def land(
    conn: psycopg.Connection,
    paths: Iterable[str | Path],
    echo: Callable[[str], None] | None = None,
    settings: Settings | None = None,
) -> LandingReport:
    """Land every file under `paths`; an unreadable file is reported and the others go on.

    An entry named like an event file that is not a regular file (a FIFO, a directory, a
    dangling symlink) is skipped, and reported and recorded like a file that failed.
    """
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        # Inside an open transaction every file's transaction would be a mere savepoint, and
        # nothing would commit file by file.
        raise ValueError("land() needs a connection outside a transaction (e.g. autocommit)")
    settings = settings or load_settings()
    files, skipped = scan(paths)
    ensure_raw_schema(conn)
    report = LandingReport()
    for path, why in skipped:
        _record_failure(conn, path, why)
        report.files.append(FileResult(path=path, error=why))
        if echo is not None:
            echo(report.files[-1].summary())
    pools = _LazyPool(_workers(settings))
    reader = _Reader(files, pools, hold=_maybe_landed(conn, files), window=_window(settings))
    try:
        for path in files:
            try:
                result = land_file(conn, path, reader)
            except LandingError as exc:
                result = FileResult(path=path, error=str(exc).removeprefix(f"{path}: "))
                _record_failure(conn, path, result.error or "")
            report.files.append(result)
            if echo is not None:
                echo(result.summary())
    finally:
        reader.close()
        pools.shutdown()
    if report.landed_files:
        # Statistics for the models that read the new rows next (autovacuum may lag).
        conn.execute("analyze raw.events")
        conn.execute("analyze raw.load_batches")
        conn.commit()
    return report


def _maybe_landed(conn: psycopg.Connection, files: list[Path]) -> set[Path]:
    """The files of the same size as a landed batch: only those can be skipped as landed."""
    sizes = {path: size for path in files if (size := _stat(path)[0]) is not None}
    with conn.transaction():
        landed = {
            row[0]
            for row in conn.execute(
                "select distinct size_bytes from raw.load_batches where size_bytes = any(%s)",
                [list(set(sizes.values()))],
            )
        }
    return {path for path, size in sizes.items() if size in landed}


def _workers(settings: Settings) -> int:
    if settings.load_workers is not None:
        return settings.load_workers
    return min(4, os.cpu_count() or 1)


def _window(settings: Settings) -> EventWindow:
    """The accepted `occurred_at` range of one landing: the latest is fixed when it starts."""
    return EventWindow.at(settings.earliest_event_date, settings.future_tolerance)


def _record_failure(conn: psycopg.Connection, path: Path, error: str) -> None:
    size, mtime = _stat(path)
    with conn.transaction():
        conn.execute(
            "insert into raw.load_failures (source_path, size_bytes, source_mtime, error) "
            "values (%s, %s, %s, %s)",
            [_source(path), size, mtime, error],
        )


def _record_skip(
    cur: psycopg.Cursor, source: str, size: int, mtime: datetime, batch_id: int
) -> None:
    """A file skipped as the same bytes as `batch_id`, once as it is now: a file that landed
    from this very path, size and time is no news, and neither is the same skip again."""
    cur.execute(
        "insert into raw.load_skips (source_path, size_bytes, source_mtime, same_as_batch) "
        "select %(source)s, %(size)s, %(mtime)s, %(batch)s where not exists ("
        "select from raw.load_batches where source_path = %(source)s "
        "and size_bytes = %(size)s and source_mtime = %(mtime)s "
        "union all select from raw.load_skips where source_path = %(source)s "
        "and size_bytes = %(size)s and source_mtime = %(mtime)s)",
        {"source": source, "size": size, "mtime": mtime, "batch": batch_id},
    )


def _source(path: Path) -> str:
    """The path recorded for a file: resolved, or for a dangling symlink the link's own path
    (resolving it would name its missing target)."""
    return str(path.resolve()) if path.exists() else os.path.abspath(path)


def _stat(path: Path) -> tuple[int | None, datetime | None]:
    try:
        stat = path.stat()
    except OSError:
        return None, None
    return stat.st_size, datetime.fromtimestamp(stat.st_mtime, tz=UTC)


def unseen_files(conn: psycopg.Connection, directory: Path) -> list[Path]:
    """Event files under `directory` not yet landed, skipped or failed as they are now (same
    path, size and modification time): what a scheduled run or sensor should land. A file that
    failed is retried once it changes; so is one skipped as the bytes of a landed batch (it is
    hashed again, and skipped again if its bytes are still those)."""
    if not directory.is_dir():
        return []
    ensure_raw_schema(conn)
    seen = {
        (row[0], row[1], row[2])
        for row in conn.execute(
            "select source_path, size_bytes, source_mtime from raw.load_batches "
            "union select source_path, size_bytes, source_mtime from raw.load_skips "
            "union select source_path, size_bytes, source_mtime from raw.load_failures"
        )
    }
    files, skipped = scan([directory])
    fresh = []
    # A FIFO or a dangling symlink is listed once (as it is now), so that landing it records it
    # as skipped; a file that failed is retried once it changes.
    for path in [*files, *(entry for entry, _ in skipped if not entry.is_dir())]:
        size, mtime = _stat(path)
        if (_source(path), size, mtime) not in seen:
            fresh.append(path)
    # A directory named like an event file cannot be passed on (landing walks a directory it
    # is given): it is recorded here, once as it is now; its event files are listed above.
    for path, why in skipped:
        if path.is_dir() and (_source(path), *_stat(path)) not in seen:
            _record_failure(conn, path, why)
    return sorted(fresh)
