"""`dwh`: the warehouse's command line.

dwh db start|stop|status|url|env     the embedded PostgreSQL (or DWH_DATABASE_URL)
dwh generate --players N --days D --seed S --out DIR
dwh ingest PATH...                   land event files into raw
dwh run [--full-refresh] [--no-wait] the `warehouse` Dagster job, in-process (one at a time):
                                     one line per stage; --verbose shows dbt's own lines
dwh backfill --from D --to D         recompute days of the event-time marts
dwh demo                             generate, land, run, print gold numbers
dwh grant-reader NAME                a login reading all of gold
dwh grant-brand-reader NAME BRAND..  a login reading gold rows of those brands only
                                     (again: adds brands, keeps the password unless
                                     --reset-password; never widens a login)
dwh bench [--events N]               benchmark: landing, job stages, queries, the floor
dwh dbt ARGS...                      dbt against the warehouse (every argument goes to dbt)
dwh dagster                          the Dagster UI (dagster dev)
dwh docs [--no-serve]                the dbt docs and the GX Data Docs, on one local address
dwh report [--out PATH]              a self-contained HTML report of gold (opens offline)
dwh metrics list|query ...           the semantic layer: metrics from published gold (MetricFlow)
dwh serve [--host H] [--port P]      the analytics API over gold (OpenAPI docs at /docs)
dwh api-client create|list|revoke    the API's clients, each scoped to brands by RLS

`dwh COMMAND --help` lists a command's options, with their defaults.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from api.cli import register as register_api
from devtools.embedded import EmbeddedPostgres
from dwh.bench import API_CONCURRENCY
from dwh.docs_site import register as register_docs
from dwh.metrics import register as register_metrics
from dwh.report import register as register_report
from warehouse.database import connect, database_url, dbt_env, redact, use_server
from warehouse.settings import (
    PROJECT_ROOT,
    Settings,
    child_environment,
    exported_to_children,
    load_settings,
)


def embedded_server(settings: Settings | None = None) -> EmbeddedPostgres:
    """The embedded server of DWH_HOME (devtools/embedded.py)."""
    return EmbeddedPostgres((settings or load_settings()).home)


def _embedded_url(settings: Settings) -> str:
    """Without DWH_DATABASE_URL, the warehouse is the embedded server, started on demand."""
    return embedded_server(settings).start().url()


def _echo(message: str = "") -> None:
    print(message, flush=True)


def _fail(message: str, code: int = 2) -> int:
    print(f"dwh: error: {message}", file=sys.stderr, flush=True)
    return code


# -- db -----------------------------------------------------------------------------------------
def cmd_db(args: argparse.Namespace) -> int:
    settings = load_settings()
    if settings.database_url and args.action in ("start", "stop"):
        return _fail(
            "DWH_DATABASE_URL is set: the warehouse is an external server, not the embedded one"
        )
    if args.action == "start":
        server = embedded_server(settings)
        state = server.start()
        _echo(f"embedded PostgreSQL running under {server.pgdata} on 127.0.0.1:{state.port}")
        _echo(f"url: {redact(state.url())}   (full URL: dwh db url)")
    elif args.action == "stop":
        stopped = embedded_server(settings).stop()
        _echo("stopped" if stopped else "not running")
    elif args.action == "status":
        if settings.database_url:
            try:
                with connect(settings.database_url) as conn:
                    version = conn.execute("show server_version").fetchone()
            except Exception as exc:
                _echo(f"external server {redact(settings.database_url)}: unreachable ({exc})")
                return 1
            _echo(
                f"external server {redact(settings.database_url)}: "
                f"PostgreSQL {version[0] if version else '?'}"
            )
            return 0
        server = embedded_server(settings)
        running = server.is_running()
        url = server.url()
        _echo(
            f"embedded server under {server.pgdata}: {'running' if running else 'stopped'}"
            + (f", {redact(url)}" if url else ", not initialised")
        )
        return 0 if running else 1
    elif args.action == "url":
        _echo(database_url(settings))
    elif args.action == "env":
        for key, value in dbt_env(database_url(settings)).items():
            _echo(f"export {key}='{value}'")
        _echo(f"export DBT_PROFILES_DIR='{PROJECT_ROOT / 'dbt_project'}'")
    return 0


# -- generate -----------------------------------------------------------------------------------
def _generator_config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from ingestion.generator import GeneratorConfig

    return GeneratorConfig(
        players=args.players,
        days=args.days,
        seed=args.seed,
        start_date=args.start_date,
        brands=args.brands,
        duplicate_rate=args.duplicate_rate,
        late_rate=args.late_rate,
        malformed_rate=args.malformed_rate,
        gzip=not args.no_gzip,
        events_target=args.events,
    )


def cmd_generate(args: argparse.Namespace) -> int:
    from ingestion.generator import generate

    try:
        config = _generator_config(args)
    except ValueError as exc:
        return _fail(str(exc))
    out = Path(args.out)
    summary = generate(config, out, progress=sys.stderr.isatty() and not args.quiet)
    _echo(
        f"wrote {len(summary.files)} files to {out}: {summary.lines:,} lines, "
        f"{summary.events:,} events ({summary.duplicates:,} duplicates, "
        f"{summary.late:,} late, {summary.malformed:,} malformed) "
        f"in {summary.seconds:.1f} s"
    )
    return 0


# -- ingest -------------------------------------------------------------------------------------
def cmd_ingest(args: argparse.Namespace) -> int:
    from ingestion.landing import LandingError, discover, land

    try:
        discover(args.paths)  # a bad path is an error before anything lands
    except LandingError as exc:
        return _fail(str(exc))
    started = time.perf_counter()
    with connect() as conn:
        report = land(conn, args.paths, echo=_echo)
    seconds = time.perf_counter() - started
    lines = report.total("lines_read")
    _echo(
        f"{len(report.landed_files)} landed, "
        f"{sum(1 for f in report.files if f.skipped_as_batch is not None)} already landed, "
        f"{len(report.failed)} failed: {lines:,} lines, {report.total('landed'):,} events, "
        f"{report.total('quarantined'):,} quarantined in {seconds:.1f} s"
        + (f" ({lines / seconds:,.0f} lines/s)" if lines and seconds > 0 else "")
    )
    if not report.files:
        _echo("no *.ndjson or *.ndjson.gz files found")
    return 1 if report.failed else 0


# -- run ----------------------------------------------------------------------------------------
# `dwh run --no-wait` while another run holds the warehouse: EX_TEMPFAIL, try again later
BUSY_EXIT_CODE = 75


def _finish(report, started: float) -> int:  # type: ignore[no-untyped-def]
    if report.noop:
        # the reason was printed by the runner; no Dagster run was started
        _echo(f"no run started ({time.perf_counter() - started:.1f} s)")
        return 0
    _echo(
        f"run {report.run_id} {'succeeded' if report.success else 'FAILED'} "
        f"in {time.perf_counter() - started:.1f} s"
    )
    if report.success:
        return 0
    return _fail(report.failure or "the run failed", 1)


def cmd_run(args: argparse.Namespace) -> int:
    from dwh.runner import run_warehouse_job
    from warehouse.database import WarehouseBusy

    started = time.perf_counter()
    _echo("running the warehouse job" + (" (full refresh)" if args.full_refresh else ""))
    try:
        report = run_warehouse_job(
            full_refresh=args.full_refresh,
            landing_dir=Path(args.landing_dir) if args.landing_dir else None,
            dbt_vars=args.vars or "",
            wait=not args.no_wait,
            echo=_echo,
            force=args.force,
            verbose=args.verbose,
        )
    except WarehouseBusy as exc:
        return _fail(f"{exc} (--no-wait: not waiting)", BUSY_EXIT_CODE)
    return _finish(report, started)


# -- backfill -----------------------------------------------------------------------------------
def cmd_backfill(args: argparse.Namespace) -> int:
    from dwh.runner import run_backfill
    from warehouse.database import WarehouseBusy

    if args.day_to < args.day_from:
        return _fail(f"--to {args.day_to} is before --from {args.day_from}")
    started = time.perf_counter()
    _echo(f"recomputing {args.day_from} .. {args.day_to} of the event-time marts")
    try:
        report = run_backfill(
            args.day_from.isoformat(),
            args.day_to.isoformat(),
            wait=not args.no_wait,
            echo=_echo,
            verbose=args.verbose,
        )
    except WarehouseBusy as exc:
        return _fail(f"{exc} (--no-wait: not waiting)", BUSY_EXIT_CODE)
    return _finish(report, started)


# -- demo ---------------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    from dwh.runner import run_warehouse_job
    from ingestion.generator import GeneratorConfig, generate

    settings = load_settings()
    started = time.perf_counter()
    landing = settings.landing_dir / f"demo-seed{args.seed}-p{args.players}-d{args.days}"
    marker = landing / ".complete"
    if marker.exists():
        _echo(f"1/3 demo data already generated in {landing}")
    else:
        _echo(f"1/3 generating {args.players:,} players over {args.days} days into {landing}")
        summary = generate(
            GeneratorConfig(
                players=args.players, days=args.days, seed=args.seed, start_date=args.start_date
            ),
            landing,
            progress=sys.stderr.isatty(),
        )
        marker.write_text(f"{summary.events}\n")
        _echo(
            f"    {summary.events:,} events in {len(summary.files)} files ({summary.seconds:.1f} s)"
        )
    _echo(f"2/3 running the warehouse job on {redact(database_url(settings))}")
    report = run_warehouse_job(landing_dir=landing, echo=_echo, verbose=args.verbose)
    if not report.success:
        return _fail(f"the warehouse job failed: {report.failure or 'see above'}", 1)
    _echo("3/3 gold numbers")
    with connect() as conn:
        _print_demo_numbers(conn)
    _echo(f"\ndemo finished in {time.perf_counter() - started:.1f} s. Where to look next:")
    _echo('  psql "$(.venv/bin/dwh db url)"      schemas raw, bronze, silver, gold, audit')
    _echo("  .venv/bin/dwh dagster                 the Dagster UI: lineage raw -> gold, runs")
    _echo("  select * from audit.dq_batch_accounting; select * from audit.dq_quarantine;")
    return 0


def _print_demo_numbers(conn) -> None:  # type: ignore[no-untyped-def]
    from warehouse.audit import data_quality_counts
    from warehouse.publish import revenue_summary

    revenue = revenue_summary(conn)
    if revenue is None:
        _echo("    gold.fct_revenue_daily is empty")
        return
    _echo(f"    {revenue.first_day} .. {revenue.last_day}, {revenue.brands} brands")
    _echo(
        f"    GGR {revenue.ggr_eur_minor / 100:,.2f} EUR, "
        f"NGR {revenue.ngr_eur_minor / 100:,.2f} EUR, "
        f"RTP {revenue.win_minor / revenue.stake_minor:.3f} (all currencies)"
    )
    for brand, brand_ngr in revenue.ngr_by_brand:
        _echo(f"    {brand:<10} NGR {brand_ngr / 100:>14,.2f} EUR")
    counts = data_quality_counts(conn)
    if counts:
        _echo(
            f"    audit: {counts[0]:,} quarantined lines, {counts[1]:,} invalid payloads, "
            f"{counts[2]:,} duplicate conflicts, {counts[3]:,} events later than the lookback"
        )


# -- access -------------------------------------------------------------------------------------
def _restrict_catalog(args: argparse.Namespace) -> str:
    """Hide relation sizes from readers where the project may: always on the embedded server
    (the project owns it), on request on your own server. Returns what to tell the user."""
    import psycopg

    from devtools.embedded import DATABASE
    from warehouse.access import restrict_catalog, restrict_connections

    if load_settings().database_url is None:
        state = embedded_server().start()
        with psycopg.connect(state.admin_url(DATABASE), autocommit=True) as admin:
            restrict_catalog(admin)
        with psycopg.connect(state.admin_url(), autocommit=True) as admin:
            restrict_connections(admin)
        return "catalog: table sizes and statistics are hidden from readers (embedded server)"
    if args.restrict_catalog:
        with connect() as conn:
            restrict_catalog(conn)
        return "catalog: table sizes and statistics are hidden from readers in this database"
    return (
        "note: readers can still see every table's size and row estimate in the catalog; "
        "a superuser can hide them with --restrict-catalog (README: Who may read what)"
    )


def _error_text(exc: Exception) -> str:
    """An error without its statement, which could hold a secret: the primary message only."""
    diag = getattr(exc, "diag", None)
    primary = diag.message_primary if diag is not None else None
    return primary or str(exc).splitlines()[0]


def cmd_grant(args: argparse.Namespace) -> int:
    import psycopg

    from warehouse.access import AccessError, grant_brand_reader, grant_reader, require_superuser

    try:
        with connect() as conn:
            if args.restrict_catalog and load_settings().database_url is not None:
                require_superuser(conn)  # refused before any login is made
            if args.command == "grant-reader":
                login = grant_reader(
                    conn, args.name, args.password, reset_password=args.reset_password
                )
                scope = "all of gold"
            else:
                login = grant_brand_reader(
                    conn, args.name, args.brands, args.password, reset_password=args.reset_password
                )
                scope = "gold rows of " + ", ".join(login.brands)
    except AccessError as exc:
        return _fail(str(exc))
    except psycopg.Error as exc:
        return _fail(_error_text(exc), 1)
    # After the grant: the group roles the catalog grants name exist, made by the pipeline.
    try:
        catalog, failure = _restrict_catalog(args), ""
    except (AccessError, psycopg.Error) as exc:
        catalog, failure = "", f"{args.name} is granted, but restricting the catalog failed: "
        failure += _error_text(exc)
    _echo(f"{args.name} may read {scope}")
    if login.created:
        _echo("new login" + (", with the password given" if args.password else ""))
    elif login.password is None:
        _echo("existing login: its password is unchanged (--reset-password sets a new one)")
    else:
        _echo("existing login: its password was reset")
    if catalog:
        _echo(catalog)
    if login.password is not None and not args.password:
        _echo(f"password: {login.password}")
    return _fail(failure, 1) if failure else 0


# -- bench --------------------------------------------------------------------------------------
def _counts(text: str) -> tuple[int, ...]:
    """`1,2,8` -> (1, 2, 8): positive whole numbers, comma-separated."""
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of whole numbers: {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"every number must be at least 1: {text!r}")
    return counts


def cmd_bench(args: argparse.Namespace) -> int:
    from dwh.bench import format_scale_curve, format_table, run_bench, run_scale_curve, save

    options = {
        "seed": args.seed,
        "days": args.days,
        "repeats": args.repeats,
        "database_url": args.database_url,
        "api": args.api,
        "api_concurrency": args.api_concurrency,
        "api_requests": args.api_requests,
    }
    directory = Path(args.json_dir) if args.json_dir else load_settings().home / "bench"
    if args.scale:
        sizes = [int(size) for size in args.scale.split(",")]
        points, results = run_scale_curve(sizes, echo=_echo, **options)
        for result in results:
            _echo("")
            _echo(format_table(result))
            _echo(f"JSON: {save(result, directory)}")
        _echo("\nscale curve:\n" + format_scale_curve(points))
        return 0
    result = run_bench(args.events, echo=_echo, **options)
    _echo("")
    _echo(format_table(result))
    _echo(f"\nJSON: {save(result, directory)}")
    return 0


# -- dbt / dagster ------------------------------------------------------------------------------
def cmd_dbt(args: argparse.Namespace) -> int:
    from warehouse.dbt import run_dbt

    # dbt colours its lines whatever its output is; only a terminal gets them (an explicit
    # --use-colors among the arguments still wins over the variable).
    colours = {} if sys.stdout.isatty() else {"DBT_USE_COLORS": "false"}
    with exported_to_children(colours):
        proc = run_dbt(args.dbt_args, check=False, capture=False)
    return proc.returncode


def cmd_dagster(args: argparse.Namespace) -> int:
    from dwh.runner import dagster_home, dagster_instance
    from warehouse.dbt import prepare_manifest

    settings = load_settings()
    url = database_url(settings)
    prepare_manifest(url)
    dagster_instance(settings)  # writes the instance's configuration
    home = dagster_home(settings)
    # dagster dev, its code server, daemon and runs: the warehouse's URL (the embedded
    # server's, started above, is handed down), dbt's connection and the instance's home.
    env = child_environment({**dbt_env(url), "DWH_DATABASE_URL": url, "DAGSTER_HOME": str(home)})
    dagster = Path(sys.executable).with_name("dagster")
    command = [
        str(dagster),
        "dev",
        "-w",
        str(PROJECT_ROOT / "workspace.yaml"),
        "-h",
        args.host,
        "-p",
        str(args.port),
    ]
    _echo(f"Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={home})")
    return subprocess.call(command, cwd=PROJECT_ROOT, env=env)


# -- parser -------------------------------------------------------------------------------------
def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from exc


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help as written, with each option's default: `(default: X)` after its help, unless the
    help already says it or there is nothing to say (a flag that is off, no value)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or "default" in text.lower()
            or default in (None, False, argparse.SUPPRESS)
            or not action.option_strings
        ):
            return text
        return f"{text} (default: %(default)s)"


def _add_run_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="show dbt's and Dagster's own log lines as they come; without it, one line per "
        "stage, and dbt's lines go to a log file under DWH_HOME/logs (named in the output)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dwh", description=__doc__, formatter_class=HelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = sub.add_parser("db", help="the warehouse database")
    db.add_argument(
        "action",
        choices=["start", "stop", "status", "url", "env"],
        help="start/stop the embedded server; status; url: the connection URL; env: the "
        "dbt profile's variables as shell exports",
    )
    db.set_defaults(func=cmd_db)

    gen = sub.add_parser("generate", help="write realistic event files")
    gen.add_argument("--players", type=int, default=1000, help="players to simulate")
    gen.add_argument("--days", type=int, default=30, help="days of events")
    gen.add_argument("--seed", type=int, default=42, help="random seed: same seed, same files")
    gen.add_argument("--out", required=True, help="output directory")
    gen.add_argument(
        "--start-date", type=_date, default=dt.date(2026, 1, 1), help="first day (YYYY-MM-DD)"
    )
    gen.add_argument("--brands", type=int, default=3, help="brands (tenant ids brand-1..N)")
    gen.add_argument(
        "--events",
        type=int,
        default=None,
        help="about this many events (sets the number of players; default: --players decides)",
    )
    gen.add_argument(
        "--duplicate-rate", type=float, default=0.01, help="share of events sent twice"
    )
    gen.add_argument(
        "--late-rate", type=float, default=0.01, help="share of events delivered 1-5 days late"
    )
    gen.add_argument(
        "--malformed-rate", type=float, default=0.001, help="malformed lines, per event"
    )
    gen.add_argument("--no-gzip", action="store_true", help="write .ndjson instead of .ndjson.gz")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(func=cmd_generate)

    ingest = sub.add_parser("ingest", help="land event files (*.ndjson, *.ndjson.gz) into raw")
    ingest.add_argument(
        "paths", nargs="+", metavar="PATH", help="event files, or directories to search"
    )
    ingest.set_defaults(func=cmd_ingest)

    run = sub.add_parser("run", help="run the warehouse job in-process")
    run.add_argument("--full-refresh", action="store_true", help="rebuild incremental models")
    run.add_argument("--landing-dir", help="land from here (default: DWH_HOME/landing)")
    run.add_argument("--vars", help="dbt vars, e.g. '{lookback_days: 7}' (default: none)")
    run.add_argument(
        "--no-wait",
        action="store_true",
        help=f"exit at once (code {BUSY_EXIT_CODE}) if another run holds the warehouse",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="run even when nothing is new: without it, a run with no file to land and no "
        "model, seed, test, macro, suite or setting changed since the last publication "
        "builds, validates and publishes nothing",
    )
    _add_run_output(run)
    run.set_defaults(func=cmd_run)

    backfill = sub.add_parser("backfill", help="recompute a range of days of the event-time marts")
    backfill.add_argument(
        "--from", dest="day_from", type=_date, required=True, help="first day (YYYY-MM-DD)"
    )
    backfill.add_argument(
        "--to", dest="day_to", type=_date, required=True, help="last day, included (YYYY-MM-DD)"
    )
    backfill.add_argument(
        "--no-wait", action="store_true", help="exit at once if another run holds the warehouse"
    )
    _add_run_output(backfill)
    backfill.set_defaults(func=cmd_backfill)

    demo = sub.add_parser("demo", help="generate a data set, run the job, print gold numbers")
    demo.add_argument("--players", type=int, default=20000, help="players to simulate")
    demo.add_argument("--days", type=int, default=30, help="days of events")
    demo.add_argument("--seed", type=int, default=7, help="random seed of the data set")
    demo.add_argument(
        "--start-date", type=_date, default=dt.date(2026, 1, 1), help="first day (YYYY-MM-DD)"
    )
    _add_run_output(demo)
    demo.set_defaults(func=cmd_demo)

    reader = sub.add_parser("grant-reader", help="a login that reads all of gold (bi_reader)")
    reader.add_argument("name", help="the login: lowercase letters, digits, underscores")
    brand_reader = sub.add_parser(
        "grant-brand-reader",
        help="a login that reads gold rows of some brands only; again: adds brands",
    )
    brand_reader.add_argument("name", help="the login: lowercase letters, digits, underscores")
    brand_reader.add_argument("brands", nargs="+", metavar="BRAND", help="brand ids, e.g. brand-7")
    for grant in (reader, brand_reader):
        grant.add_argument("--password", help="default: a generated one, printed once")
        grant.add_argument(
            "--reset-password",
            action="store_true",
            help="an existing login gets a new password (otherwise it keeps its own)",
        )
        grant.add_argument(
            "--restrict-catalog",
            action="store_true",
            help="your own server, as a superuser: hide table sizes and statistics from "
            "readers (always done on the embedded server)",
        )
        grant.set_defaults(func=cmd_grant)

    bench = sub.add_parser("bench", help="measure landing, the job, queries and the floor")
    bench.add_argument("--events", type=int, default=2_000_000, help="events to generate")
    bench.add_argument("--days", type=int, default=30, help="days the events span")
    bench.add_argument("--seed", type=int, default=1, help="random seed of the data set")
    bench.add_argument("--repeats", type=int, default=30, help="runs of each dashboard query")
    bench.add_argument(
        "--database-url",
        help="an empty database to use, whose schemas are dropped (default: a database "
        "`bench` on the warehouse's server)",
    )
    bench.add_argument("--json-dir", help="where to write the JSON (default: DWH_HOME/bench)")
    bench.add_argument(
        "--scale",
        metavar="N,N,...",
        help="the whole benchmark at each of these sizes, then the scale curve (seconds per "
        "million events), e.g. 500000,2000000,8000000",
    )
    bench.add_argument(
        "--api", action="store_true", help="also measure the analytics API under load"
    )
    bench.add_argument(
        "--api-concurrency",
        metavar="N,N,...",
        type=_counts,
        default=",".join(map(str, API_CONCURRENCY)),  # argparse parses a string default
        help="numbers of concurrent API clients, each a load of its own (with --api)",
    )
    bench.add_argument(
        "--api-requests",
        type=int,
        default=200,
        help="requests of each kind per load, shared by its clients (with --api)",
    )
    bench.set_defaults(func=cmd_bench)

    # `dwh dbt ...` never reaches argparse (main passes everything after `dbt` to dbt); the
    # parser is here for `dwh --help`.
    dbt = sub.add_parser(
        "dbt",
        help="run dbt against the warehouse: every argument goes to dbt (dwh dbt --help is "
        "dbt's help)",
        add_help=False,
    )
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER, help="dbt's arguments")
    dbt.set_defaults(func=cmd_dbt)

    dagster = sub.add_parser("dagster", help="the Dagster UI")
    dagster.add_argument("--host", default="127.0.0.1", help="address to listen on")
    dagster.add_argument("--port", type=int, default=3000, help="port to listen on")
    dagster.set_defaults(func=cmd_dagster)

    register_docs(sub)
    register_report(sub)
    register_metrics(sub)
    register_api(sub)

    # Every command's help shows its options' defaults, those registered elsewhere too.
    for command in sub.choices.values():
        command.formatter_class = HelpFormatter
    return parser


def _debug() -> bool:
    try:
        return load_settings().debug
    except ValueError:  # a bad setting is the error being reported
        return False


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["dbt"]:
        # Everything after `dbt` is dbt's, options included (--version, --help, -s):
        # argparse would take the options for dwh's own.
        args = argparse.Namespace(command="dbt", dbt_args=argv[1:], func=cmd_dbt)
    else:
        args = build_parser().parse_args(argv)
    # The entry point owns the embedded server: without DWH_DATABASE_URL, every connection
    # of this process goes to it (started on demand).
    use_server(_embedded_url)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a clear message, not a traceback; DWH_DEBUG=1 for the trace
        if _debug():
            raise
        return _fail(f"{type(exc).__name__}: {exc}", 1)


if __name__ == "__main__":
    sys.exit(main())
