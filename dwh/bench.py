"""`dwh bench`: the warehouse's figures, measured in one run on one database.

1. generate N events (cached under DWH_HOME/bench), and 1% more for an incremental run;
2. landing: lines/s;
3. the `warehouse` job on the landed data, per stage (dbt, checks, publication) and in total;
4. the job again after landing the 1% more events (the incremental run), and once more with
   nothing new (the no-op run: it decides so before dbt starts, and publishes nothing);
5. dashboard query latency, p50/p95 over repeated runs;
6. the floor on the same data: plain COPY of the lines, one DISTINCT ON dedup, one GROUP BY
   rollup; and the ratio of the full job (landing to publication) to that floor;
7. peak memory of this process, of its children (dbt, loader workers) and of PostgreSQL;
8. disk: the benchmark database's bytes and the server's WAL after the runs, per landed event,
   against the size of the raw lines themselves.

`run_scale_curve` repeats the whole benchmark at several sizes and reports seconds per million
events of the full job and of the 1% incremental run, so that a reader sees how cost grows.

The benchmark runs in its own database (`bench` on the embedded server, or the database named
by --database-url, whose warehouse schemas it drops first), never in the warehouse itself.
"""

from __future__ import annotations

import gzip
import json
import resource
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from warehouse import schemas
from warehouse.database import redact
from warehouse.settings import load_settings

SCHEMAS = (
    *schemas.WAREHOUSE_SCHEMAS,
    schemas.REFERENCE,
    schemas.SECURITY,
    "api",  # the analytics API's views (api/schema.py)
    "bench_floor",
)

# `--api`: the API's load at 1 client, at as many as the machine has cores (2 here), and at 8,
# where requests queue for the cores.
API_CONCURRENCY = (1, 2, 8)

# The dashboard query with a latency target (TARGETS["dashboard_p95_ms"]).
DASHBOARD_TARGET_QUERY = "brand 5m GGR series, 30 days"

# What a dashboard reads: (name, SQL). Parameters are filled from the data. Money is never
# added across currencies (the metric definitions, as the API answers them): a GGR series is
# one brand's in one currency, and an RTP ranking ranks games within a currency.
DASHBOARD_QUERIES: dict[str, str] = {
    "brand 5m GGR series, 30 days": (
        # the brand-grain rollup, in the brand's busiest currency (a dashboard's currency
        # picker); read from its dashboard index alone
        "select bucket_start, ggr_minor from gold.fct_bets_rollup_brand "
        "where granularity = '5m' and brand_id = %(brand)s and currency = %(currency)s "
        "and bucket_start >= %(last_day)s::date - 29 and bucket_start < %(last_day)s::date + 1 "
        "order by 1"
    ),
    "brand 5m GGR series, 30 days, every currency": (
        # the same brand's series in each of its currencies at once: three to six times the rows
        "select bucket_start, currency, ggr_minor from gold.fct_bets_rollup_brand "
        "where granularity = '5m' and brand_id = %(brand)s "
        "and bucket_start >= %(last_day)s::date - 29 and bucket_start < %(last_day)s::date + 1 "
        "order by 1, 2"
    ),
    "top-50 games by RTP, one day": (
        "select game_id, provider_id, currency, "
        "sum(win_minor)::numeric / nullif(sum(stake_minor), 0) as rtp, sum(stake_minor) as stake "
        "from gold.fct_bets_rollup where granularity = '1d' and bucket_start = %(mid_day)s::date "
        "group by 1, 2, 3 order by rtp desc nulls last limit 50"
    ),
    "a month of retention cohorts": (
        "select cohort_date, day_offset, sum(retained_players)::numeric "
        "/ nullif(sum(cohort_size), 0) from gold.fct_retention "
        "where cohort_type = 'registration' and cohort_date >= %(last_day)s::date - 30 "
        "group by 1, 2 order by 1, 2"
    ),
    "LTV curve": (
        "select day_offset, sum(cumulative_ngr_eur_minor)::numeric / nullif(sum(cohort_size), 0) "
        "from gold.fct_ltv where cohort_type = 'first_deposit' group by 1 order by 1"
    ),
}


@dataclass
class BenchResult:
    events_target: int
    database: str
    lines: int = 0
    events: int = 0
    landing_seconds: float = 0.0
    landing_lines_per_second: float = 0.0
    job_stages: dict[str, float] = field(default_factory=dict)
    job_seconds: float = 0.0
    full_seconds: float = 0.0  # landing + job
    incremental_lines: int = 0
    incremental_landing_seconds: float = 0.0
    incremental_job_stages: dict[str, float] = field(default_factory=dict)
    incremental_seconds: float = 0.0
    incremental_share_of_full: float = 0.0
    noop_seconds: float = 0.0
    noop_share_of_full: float = 0.0
    queries: dict[str, dict[str, float]] = field(default_factory=dict)
    floor: dict[str, float] = field(default_factory=dict)
    floor_seconds: float = 0.0
    full_job_over_floor: float = 0.0
    peak_memory_mb: dict[str, float] = field(default_factory=dict)
    top_models: list[tuple[str, float]] = field(default_factory=list)
    disk: dict[str, float] = field(default_factory=dict)
    api: dict[str, dict[str, float]] = field(default_factory=dict)


# The targets of the run-cost work, printed beside each figure (docs: README, benchmark).
TARGETS = {
    "full_job_over_floor": 4.0,
    "incremental_share_of_full": 0.08,
    "noop_share_of_full": 0.03,
    "landing_lines_per_second": 150_000,
    "dashboard_p95_ms": 20.0,
    "disk_over_raw_lines": 1.5,
}


def _bench_database(database_url: str | None) -> str:
    """A database for the benchmark: --database-url as given, or `bench` on the embedded
    server (created by its superuser, owned by the loader)."""
    if database_url:
        return database_url
    from devtools.embedded import DATABASE, LOADER, EmbeddedPostgres

    settings = load_settings()
    if settings.database_url:
        raise SystemExit(
            "with DWH_DATABASE_URL set, name an empty database for the benchmark "
            "with --database-url (its warehouse schemas are dropped first)"
        )
    state = EmbeddedPostgres(settings.home).start()
    with psycopg.connect(state.admin_url(), autocommit=True) as conn:
        if conn.execute("select 1 from pg_database where datname = 'bench'").fetchone() is None:
            conn.execute(sql.SQL("create database bench owner {}").format(sql.Identifier(LOADER)))
    return state.url().rsplit(f"/{DATABASE}", 1)[0] + "/bench"


def _reset(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for schema in SCHEMAS:
            conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))


def _generate(home: Path, events: int, seed: int, days: int) -> tuple[Path, Path]:
    from ingestion.generator import GeneratorConfig, generate

    base = home / "bench" / f"events-{events}-seed{seed}-d{days}"
    main, more = base / "main", base / "more"
    start = date(2026, 1, 1)
    if not (base / ".complete").exists():
        generate(
            GeneratorConfig(events_target=events, days=days, seed=seed, start_date=start),
            main,
            progress=True,
        )
        # 1% more events: a later delivery over the last days of the period, another seed
        generate(
            GeneratorConfig(
                events_target=max(events // 100, 1000),
                days=3,
                seed=seed + 1,
                start_date=start + timedelta(days=days - 3),
            ),
            more,
            progress=False,
        )
        # distinct names so that both deliveries land (the generator names files by day)
        for path in more.iterdir():
            path.rename(path.with_name("more-" + path.name))
        (base / ".complete").touch()
    return main, more


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def _land(url: str, directory: Path) -> tuple[int, float]:
    from ingestion.landing import land

    with psycopg.connect(url) as conn:
        report, seconds = _timed(lambda: land(conn, [directory]))
    if report.failed:
        raise RuntimeError("landing failed: " + "; ".join(f.summary() for f in report.failed))
    return report.total("lines_read"), seconds


def _run_job(url: str, full_refresh: bool = False) -> tuple[dict[str, float], float]:
    from dwh.runner import run_warehouse_job

    report, seconds = _timed(
        lambda: run_warehouse_job(
            url=url,
            full_refresh=full_refresh,
            ephemeral_instance=True,
            landing_dir=Path("/nonexistent-bench-landing"),
        )
    )
    if not report.success:
        raise RuntimeError(f"the warehouse job failed: {report.failure}")
    return {s.name: round(s.seconds, 2) for s in report.steps}, seconds


def _run_noop(url: str) -> float:
    """The job with nothing new since the last publication: seconds until it said so."""
    from dwh.runner import run_warehouse_job

    report, seconds = _timed(
        lambda: run_warehouse_job(
            url=url, ephemeral_instance=True, landing_dir=Path("/nonexistent-bench-landing")
        )
    )
    if not report.success or report.noop is None:
        raise RuntimeError(f"the run with nothing new was not a no-op: {report.failure}")
    return seconds


def _queries(url: str, repeats: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        last_day, mid_day, brand = conn.execute(
            "select max(day), max(day) - 15, min(brand_id) from gold.fct_revenue_daily"
        ).fetchone()  # type: ignore[misc]
        (currency,) = conn.execute(
            "select currency from gold.fct_bets_rollup_brand where brand_id = %s "
            "group by 1 order by count(*) desc, 1 limit 1",
            [brand],
        ).fetchone()  # type: ignore[misc]
        params = {"last_day": last_day, "mid_day": mid_day, "brand": brand, "currency": currency}
        for name, query in DASHBOARD_QUERIES.items():
            conn.execute(query, params).fetchall()  # warm
            timings = []
            for _ in range(repeats):
                started = time.perf_counter()
                conn.execute(query, params).fetchall()
                timings.append((time.perf_counter() - started) * 1000)
            timings.sort()
            results[name] = {
                "p50_ms": round(statistics.median(timings), 2),
                "p95_ms": round(timings[min(len(timings) - 1, int(0.95 * len(timings)))], 2),
            }
    return results


def _floor(url: str, directory: Path) -> dict[str, float]:
    """The physical floor on the same data: what any warehouse must at least do."""
    floor: dict[str, float] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop schema if exists bench_floor cascade")
        conn.execute("create schema bench_floor")
        conn.execute("create table bench_floor.lines (line text)")
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy("copy bench_floor.lines from stdin") as copy:
            for path in sorted(directory.glob("*.ndjson*")):
                opener = gzip.open if path.name.endswith(".gz") else open
                with opener(path, "rb") as handle:  # type: ignore[operator]
                    while chunk := handle.read(1 << 22):
                        copy.write(chunk.replace(b"\\", b"\\\\"))
        floor["copy_lines"] = time.perf_counter() - started
        _, floor["distinct_on_dedup"] = _timed(
            lambda: conn.execute(
                "create table bench_floor.dedup as select distinct on (event_id) * "
                "from raw.events order by event_id, batch_id, line_no"
            )
        )
        _, floor["group_by_rollup"] = _timed(
            lambda: conn.execute(
                "create table bench_floor.rollup as select date_trunc('minute', occurred_at) as m, "
                "tenant_id, region, payload ->> 'game_id' as game_id, payload ->> 'currency' as c, "
                "count(*) as bets, sum((payload ->> 'stake_minor')::numeric) as stake, "
                "sum((payload ->> 'win_minor')::numeric) as win from bench_floor.dedup "
                "where event_type = 'bet.settled' group by 1, 2, 3, 4, 5"
            )
        )
        conn.execute("drop schema bench_floor cascade")
    return {k: round(v, 2) for k, v in floor.items()}


def _peak_memory(url: str) -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    peaks = {
        "dwh process": round(own, 1),
        "largest child (dbt, loader workers)": round(children, 1),
    }
    with psycopg.connect(url) as conn:
        pid = conn.execute("select pg_backend_pid()").fetchone()[0]  # type: ignore[index]
        shared = conn.execute("show shared_buffers").fetchone()[0]  # type: ignore[index]
        # while the backend lives: its /proc entry names the postmaster, its parent
        server = _postmaster_hwm(pid)
    if server is not None:
        peaks["postgres (largest process, incl. shared memory touched)"] = server
    peaks["postgres shared_buffers setting"] = shared
    return peaks


def _postmaster_hwm(backend_pid: int) -> float | None:
    try:
        parent = int(Path(f"/proc/{backend_pid}/stat").read_text().split()[3])
        hwm = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                stat = (proc / "stat").read_text().split()
                if int(stat[3]) != parent and int(proc.name) != parent:
                    continue
                for line in (proc / "status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        hwm.append(int(line.split()[1]) / 1024)
            except (OSError, ValueError, IndexError):
                continue
        return round(max(hwm), 1) if hwm else None
    except (OSError, ValueError, IndexError):
        return None


def _raw_line_bytes(directory: Path) -> int:
    """The landed lines' own size: what the files hold once decompressed."""
    total = 0
    for path in sorted(directory.glob("*.ndjson*")):
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rb") as handle:  # type: ignore[operator]
            while chunk := handle.read(1 << 22):
                total += len(chunk)
    return total


def _tree_bytes(root: Path) -> int | None:
    if not root.is_dir():
        return None
    total = 0
    for path in root.rglob("*"):
        try:
            if path.is_file():
                total += path.stat().st_size
        except OSError:  # a WAL segment recycled while walking
            continue
    return total


def _disk(url: str, raw_bytes: int, pgdata: Path | None) -> dict[str, float]:
    """Bytes on disk after the runs. The database's own size is measured by PostgreSQL (every
    schema of the benchmark database: raw, silver, candidates, gold, audit); the WAL is the
    server's, read from its directory when the server is the embedded one."""
    with psycopg.connect(url) as conn:
        database = conn.execute("select pg_database_size(current_database())").fetchone()[0]  # type: ignore[index]
        events = conn.execute("select count(*) from raw.events").fetchone()[0]  # type: ignore[index]
    disk: dict[str, float] = {
        "raw_line_bytes": raw_bytes,
        "raw_line_bytes_per_event": round(raw_bytes / max(events, 1), 1),
        "database_bytes": database,
    }
    wal = _tree_bytes(pgdata / "pg_wal") if pgdata else None
    stored = database + (wal or 0)
    if wal is not None:
        disk["wal_bytes"] = wal
    disk["stored_bytes_per_event"] = round(stored / max(events, 1), 1)
    disk["disk_over_raw_lines"] = round(stored / max(raw_bytes, 1), 2)
    return disk


def _top_models() -> list[tuple[str, float]]:
    from warehouse.dbt import target_path

    candidates = sorted(
        target_path().parent.glob("**/run_results.json"), key=lambda p: p.stat().st_mtime
    )
    if not candidates:
        return []
    results = json.loads(candidates[-1].read_text())["results"]
    timed = sorted(
        (
            (r["unique_id"].split(".")[-1], r["execution_time"])
            for r in results
            if r["unique_id"].startswith("model.")
        ),
        key=lambda x: -x[1],
    )
    return [(name, round(seconds, 2)) for name, seconds in timed[:8]]


def run_bench(
    events: int,
    *,
    seed: int = 1,
    days: int = 30,
    repeats: int = 30,
    database_url: str | None = None,
    echo: Callable[[str], None] = print,
    api: bool = False,
    api_concurrency: Sequence[int] = API_CONCURRENCY,
    api_requests: int = 200,
) -> BenchResult:
    settings = load_settings()
    url = _bench_database(database_url)
    result = BenchResult(events_target=events, database=redact(url))
    echo(f"benchmark database: {redact(url)}")
    main, more = _generate(settings.home, events, seed, days)
    _reset(url)

    echo("landing ...")
    result.lines, result.landing_seconds = _land(url, main)
    result.landing_lines_per_second = round(result.lines / result.landing_seconds)
    with psycopg.connect(url) as conn:
        result.events = conn.execute("select count(*) from raw.events").fetchone()[0]  # type: ignore[index]
    echo(
        f"  {result.lines:,} lines in {result.landing_seconds:.1f} s "
        f"({result.landing_lines_per_second:,} lines/s)"
    )

    echo("full job ...")
    result.job_stages, result.job_seconds = _run_job(url)
    result.top_models = _top_models()
    result.full_seconds = round(result.landing_seconds + result.job_seconds, 2)
    echo(f"  {result.job_seconds:.1f} s: {result.job_stages}")

    echo("incremental run on 1% more events ...")
    result.incremental_lines, result.incremental_landing_seconds = _land(url, more)
    result.incremental_job_stages, job_seconds = _run_job(url)
    result.incremental_seconds = round(result.incremental_landing_seconds + job_seconds, 2)
    result.incremental_share_of_full = round(result.incremental_seconds / result.full_seconds, 3)

    echo("no-op run (nothing new) ...")
    result.noop_seconds = round(_run_noop(url), 2)
    result.noop_share_of_full = round(result.noop_seconds / result.full_seconds, 4)

    echo("disk ...")
    pgdata = None if (database_url or settings.database_url) else settings.home / "pgdata"
    result.disk = _disk(url, _raw_line_bytes(main) + _raw_line_bytes(more), pgdata)

    echo("dashboard queries ...")
    result.queries = _queries(url, repeats)

    if api:
        from api.bench import run_api_bench

        # One server per load: the request kinds in turn, at each number of clients.
        for clients in api_concurrency:
            load = f"{clients} client{'s' if clients != 1 else ''}"
            echo(f"API under load, {load} ...")
            figures = run_api_bench(url, concurrency=clients, requests=api_requests, echo=echo)
            result.api.update({f"{name}, {load}": asdict(value) for name, value in figures.items()})

    echo("floor ...")
    result.floor = _floor(url, main)
    result.floor_seconds = round(sum(result.floor.values()), 2)
    result.full_job_over_floor = round(result.full_seconds / result.floor_seconds, 2)
    result.peak_memory_mb = _peak_memory(url)  # type: ignore[assignment]
    return result


def _against(value: float, target: float, *, at_most: bool = True, percent: bool = False) -> str:
    met = value <= target if at_most else value >= target
    shown = f"{target:.0%}" if percent else f"{target:,g}"
    return f"target {'<=' if at_most else '>='} {shown}: {'met' if met else 'MISSED'}"


def format_table(result: BenchResult) -> str:
    t = TARGETS
    disk = result.disk
    landing = _against(
        result.landing_lines_per_second, t["landing_lines_per_second"], at_most=False
    )
    incremental = _against(
        result.incremental_share_of_full, t["incremental_share_of_full"], percent=True
    )
    rows = [
        ("events landed (lines)", f"{result.events:,} ({result.lines:,})"),
        (
            "landing",
            f"{result.landing_seconds:.1f} s, {result.landing_lines_per_second:,} lines/s "
            f"({landing})",
        ),
        *[
            (f"job stage: {name}", f"{seconds:.1f} s")
            for name, seconds in result.job_stages.items()
        ],
        ("full job (landing -> publication)", f"{result.full_seconds:.1f} s"),
        (
            "floor: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.floor.items()),
            f"{result.floor_seconds:.1f} s",
        ),
        (
            "full job / floor",
            f"{result.full_job_over_floor:.2f} x "
            f"({_against(result.full_job_over_floor, t['full_job_over_floor'])})",
        ),
        (
            f"incremental run ({result.incremental_lines:,} more lines)",
            f"{result.incremental_seconds:.1f} s = {result.incremental_share_of_full:.1%} of the "
            f"full job ({incremental})",
        ),
        (
            "no-op run (nothing new since the last publication)",
            f"{result.noop_seconds:.2f} s = {result.noop_share_of_full:.1%} of the full job "
            f"({_against(result.noop_share_of_full, t['noop_share_of_full'], percent=True)})",
        ),
        *[
            (
                f"query: {name}",
                f"p50 {q['p50_ms']:.1f} ms, p95 {q['p95_ms']:.1f} ms"
                + (
                    f" ({_against(q['p95_ms'], t['dashboard_p95_ms'])})"
                    if name == DASHBOARD_TARGET_QUERY
                    else ""
                ),
            )
            for name, q in result.queries.items()
        ],
        *[
            (
                f"api: {name}",
                f"p50 {f['p50_ms']:.1f} / p95 {f['p95_ms']:.1f} / p99 {f['p99_ms']:.1f} ms, "
                f"{f['requests_per_second']:,.0f} req/s "
                f"(p95 in ms, {_against(f['p95_ms'], f['target_p95_ms'])})",
            )
            for name, f in result.api.items()
        ],
        *[(f"slowest model: {name}", f"{seconds:.1f} s") for name, seconds in result.top_models],
        *[
            (f"peak memory: {name}", f"{value} MB" if isinstance(value, float) else str(value))
            for name, value in result.peak_memory_mb.items()
        ],
    ]
    if disk:
        rows += [
            (
                "disk: raw lines",
                f"{disk['raw_line_bytes'] / 1e6:,.1f} MB ({disk['raw_line_bytes_per_event']:.0f} "
                "B per event)",
            ),
            ("disk: benchmark database", f"{disk['database_bytes'] / 1e6:,.1f} MB"),
            *(
                [("disk: server WAL (pg_wal)", f"{disk['wal_bytes'] / 1e6:,.1f} MB")]
                if "wal_bytes" in disk
                else []
            ),
            (
                "disk per landed event (database + WAL)",
                f"{disk['stored_bytes_per_event']:.0f} B = {disk['disk_over_raw_lines']:.2f} x the "
                f"raw line ({_against(disk['disk_over_raw_lines'], t['disk_over_raw_lines'])})",
            ),
        ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def save(result: BenchResult, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(asdict(result), indent=2, default=str))
    return path


@dataclass
class ScalePoint:
    events: int
    full_seconds: float
    full_seconds_per_million: float
    incremental_seconds: float
    incremental_seconds_per_million_new: float
    full_job_over_floor: float


def run_scale_curve(
    sizes: list[int], *, echo: Callable[[str], None] = print, **bench_options: Any
) -> tuple[list[ScalePoint], list[BenchResult]]:
    """The benchmark at each size, one after the other on the same database: how the full job
    and the 1 % incremental run grow with the events (seconds per million events)."""
    points, results = [], []
    for size in sizes:
        echo(f"== {size:,} events ==")
        result = run_bench(size, echo=echo, **bench_options)
        results.append(result)
        points.append(
            ScalePoint(
                events=result.events,
                full_seconds=result.full_seconds,
                full_seconds_per_million=round(result.full_seconds / result.events * 1e6, 1),
                incremental_seconds=result.incremental_seconds,
                incremental_seconds_per_million_new=round(
                    result.incremental_seconds / max(result.incremental_lines, 1) * 1e6, 1
                ),
                full_job_over_floor=result.full_job_over_floor,
            )
        )
    return points, results


def format_scale_curve(points: list[ScalePoint]) -> str:
    header = (
        "| events | full job | s per M events | 1 % incremental | s per M new events "
        "| full / floor |\n|---:|---:|---:|---:|---:|---:|"
    )
    rows = [
        f"| {p.events:,} | {p.full_seconds:.1f} s | {p.full_seconds_per_million:.1f} "
        f"| {p.incremental_seconds:.1f} s | {p.incremental_seconds_per_million_new:.1f} "
        f"| {p.full_job_over_floor:.2f} x |"
        for p in points
    ]
    return "\n".join([header, *rows])
