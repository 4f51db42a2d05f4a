"""What the CLI prints: stage lines instead of dbt's flood, no ANSI codes off a terminal, help
for every option, and `dwh dbt ARGS...` handed to dbt whole.

The run tests start `dwh run` as a subprocess with stdout and stderr piped, as a user's
`dwh run | tee` or a CI log would, on one small landing directory (one warehouse, two runs).
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from dwh.cli import build_parser
from dwh.progress import DbtLogReader, Landed, landed_since
from ingestion.generator import GeneratorConfig, generate
from orchestration.dbt_output import DbtLines
from tests.events import event, write_events
from warehouse.database import connect
from warehouse.settings import PROJECT_ROOT

ANSI = "\x1b["
# dbt's own line for a finished node, as --verbose shows it
DBT_NODE_LINE = re.compile(r"^\d+ of \d+ (OK|PASS) ", re.MULTILINE)


def _dwh(home: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DWH_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "DWH_LANDING_DIR": str(home / "landing"),
    }
    return subprocess.run(
        [sys.executable, "-m", "dwh.cli", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _lines_of(path: Path) -> int:
    data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    return data.count(b"\n")


# -- help and dbt's arguments (no run) -------------------------------------------------------
def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices) if actions else {}


def test_every_option_of_every_command_has_help_and_shows_its_default() -> None:
    commands = _subparsers(build_parser())
    assert {"run", "generate", "bench", "dbt", "docs", "dagster"} <= set(commands)
    missing, no_default = [], []
    for name, parser in commands.items():
        formatter = parser._get_formatter()
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            label = f"dwh {name} {'/'.join(action.option_strings) or action.dest}"
            if not (action.help or "").strip():
                missing.append(label)
                continue
            shown = formatter._expand_help(action)
            # an option with a default shows its value in its help line
            has_default = action.default not in (None, False, argparse.SUPPRESS)
            if has_default and action.option_strings and str(action.default) not in shown:
                no_default.append(f"{label}: {shown}")
    assert missing == []
    assert no_default == []


def test_bench_measures_the_api_at_each_number_of_clients_it_is_given() -> None:
    parser = build_parser()
    assert parser.parse_args(["bench"]).api_concurrency == (1, 2, 8)
    assert parser.parse_args(["bench", "--api-concurrency", "2,4"]).api_concurrency == (2, 4)
    for bad in ("0", "1,x", "", "2,-1"):
        with pytest.raises(SystemExit):
            parser.parse_args(["bench", "--api-concurrency", bad])


def test_help_of_a_command_shows_defaults() -> None:
    text = _subparsers(build_parser())["docs"].format_help()
    assert "(default: 8081)" in text and "(default: 127.0.0.1)" in text


def test_dwh_dbt_hands_every_argument_to_dbt(module_warehouse_url: str, tmp_path: Path) -> None:
    version = _dwh(tmp_path, "dbt", "--version", timeout=120)
    assert version.returncode == 0, version.stderr
    assert "installed: 1.11" in version.stdout
    assert "unrecognized arguments" not in version.stderr
    helped = _dwh(tmp_path, "dbt", "--help", timeout=120)
    assert helped.returncode == 0 and "Usage: dbt" in helped.stdout
    listed = _dwh(tmp_path, "dbt", "ls", "--select", "fct_ltv", "--output", "name", timeout=300)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "fct_ltv" in listed.stdout.split()
    # piped: dbt's colours are off
    assert ANSI not in listed.stdout + listed.stderr


# -- the pieces of the run output -------------------------------------------------------------
def test_the_dbt_log_reader_counts_finished_nodes_and_returns_failures(tmp_path: Path) -> None:
    log = tmp_path / "dbt.log"
    log.write_text(
        "10:00:00  1 of 1 START hook: gaming_dwh.on-run-start.0 ....... [RUN]\n"
        "10:00:00  1 of 1 OK hook: gaming_dwh.on-run-start.0 .......... [OK in 0.02s]\n"
        "10:00:01  1 of 5 START sql view model bronze.stg_events ...... [RUN]\n"
        "10:00:01  1 of 5 OK created sql view model bronze.stg_events . [CREATE VIEW in 0.2s]\n"
        "10:00:02  2 of 5 PASS not_null_stg_events_event_id ........... [PASS in 0.1s]\n"
    )
    reader = DbtLogReader(log)
    assert reader.read() == []
    # the hook's "1 of 1" is not a node; 1 model built, 1 test passed of 5
    assert (reader.counts.done, reader.counts.total) == (2, 5)
    with log.open("a") as handle:
        handle.write(
            "10:00:03  3 of 5 ERROR creating sql table model silver.int_bets [ERROR in 0.1s]\n"
            "10:00:03  4 of 5 SKIP relation gold_candidate.fct_revenue_daily ... [SKIP]\n"
            "10:00:04  5 of 5 FAIL 2 unique_x ...... [FAIL 2 in 0.1s]\n"
        )
    failed = reader.read()
    assert failed == [
        "3 of 5 ERROR creating sql table model silver.int_bets [ERROR in 0.1s]",
        "5 of 5 FAIL 2 unique_x ...... [FAIL 2 in 0.1s]",
    ]
    # done: 1 built + 1 passed + 2 failed + 1 skipped = 5
    assert reader.counts.done == 5
    assert reader.counts.summary() == "5/5 nodes: 1 built, 1 tests passed, 2 failed, 1 skipped"


def test_dbt_lines_go_to_the_log_without_colours_and_to_the_echo_as_written(
    tmp_path: Path,
) -> None:
    import io

    echo = io.StringIO()
    log = tmp_path / "logs" / "dbt.log"
    with DbtLines(log, echo) as lines:
        lines.write("1 of 2 OK created \x1b[32mview\x1b[0m\n2 of 2 ")
        lines.write("PASS t\n")
    assert echo.getvalue() == "1 of 2 OK created \x1b[32mview\x1b[0m\n2 of 2 PASS t\n"
    written = log.read_text().splitlines()
    assert [line.split("  ", 1)[1] for line in written] == [
        "1 of 2 OK created view",
        "2 of 2 PASS t",
    ]


# -- a real run, piped -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cli_output")
    landing = home / "landing"
    generate(
        GeneratorConfig(
            players=40, days=2, seed=5, start_date=date(2026, 4, 1), malformed_rate=0.0
        ),
        landing / "gen",
    )
    write_events(
        landing / "hand" / "one.ndjson",
        [
            event(
                "bet.settled",
                "2026-04-01 12:00:00",
                event_id="hand-1",
                bet_id="hb",
                game_id="g",
                provider_id="p",
                stake_minor=1000,
                win_minor=250,
                currency="EUR",
                in_bonus=False,
            ),
            "this line is not JSON",
        ],
    )
    return home


@pytest.fixture(scope="module")
def first_run(module_warehouse_url: str, home: Path) -> subprocess.CompletedProcess[str]:
    return _dwh(home, "run")


def test_a_piped_run_prints_one_line_per_stage_and_no_dbt_flood(
    first_run: subprocess.CompletedProcess[str], home: Path
) -> None:
    out = first_run.stdout
    assert first_run.returncode == 0, out[-3000:] + first_run.stderr[-3000:]
    assert ANSI not in out + first_run.stderr
    files = sorted((home / "landing").rglob("*.ndjson*"))
    # every line of every file, counted here from the files themselves; of them, the one
    # line that is not JSON is quarantined (the generator wrote no malformed or blank line)
    lines = sum(_lines_of(path) for path in files)
    landing = re.search(
        r"^landing: (\d+) files, [\d.,]+ MB, ([\d,]+) lines \(([\d,]+) events, "
        r"(\d+) quarantined\), [\d.]+ s$",
        out,
        re.MULTILINE,
    )
    assert landing, out
    assert int(landing[1]) == len(files)
    assert int(landing[2].replace(",", "")) == lines
    assert int(landing[3].replace(",", "")) == lines - 1
    assert int(landing[4]) == 1
    dbt = re.search(
        r"^dbt: (\d+)/(\d+) nodes: (\d+) built, (\d+) tests passed, 0 failed, 0 skipped, ",
        out,
        re.MULTILINE,
    )
    assert dbt, out
    # every node dbt started finished, and they are the models/seeds plus the tests
    assert dbt[1] == dbt[2] and int(dbt[3]) + int(dbt[4]) == int(dbt[2])
    # 17 marts: 17 suites, 17 tables published in the first publication
    assert re.search(r"^checks: 17/17 suites passed, ", out, re.MULTILINE), out
    assert re.search(r"^published: 17 tables to gold \(publication 1\), ", out, re.MULTILINE)
    assert re.search(r"^freshness: 17/17 marts within 5 minutes$", out, re.MULTILINE)
    # dbt's own lines are in the log file the output names, not in the output
    assert not DBT_NODE_LINE.search(out)
    assert "Running with dbt=" not in out
    [log] = re.findall(r"^dbt: building \(dbt's log: (.+)\)$", out, re.MULTILINE)
    assert Path(log).parent == home / "logs"
    text = Path(log).read_text()
    assert "Running with dbt=" in text and ANSI not in text
    # one line per finished node in the log (the on-run-start hook counts on its own)
    finished = re.findall(
        r"^\d\d:\d\d:\d\d  \d+ of \d+ (?:OK|PASS|NO-OP) (?!hook:)", text, re.MULTILINE
    )
    assert len(finished) == int(dbt[2])


def test_the_landing_line_counts_only_the_batches_after_the_runs_start(
    first_run: subprocess.CompletedProcess[str], home: Path, module_warehouse_url: str
) -> None:
    # The line reads raw.load_batches for the batches after the one the run started from, not
    # raw's totals (a second run printed every earlier run's lines as its own). Files land in
    # path order: hand/one.ndjson, after gen/, is the last batch.
    assert first_run.returncode == 0
    with connect(module_warehouse_url) as conn:
        row = conn.execute(
            "select batch_id, file_name from raw.load_batches order by batch_id desc limit 1"
        ).fetchone()
    assert row is not None and row[1].endswith("one.ndjson"), row
    hand = home / "landing" / "hand" / "one.ndjson"
    # its one event and its one line that is not JSON (the fixture above)
    assert landed_since(module_warehouse_url, row[0] - 1) == Landed(
        files=1, size_bytes=hand.stat().st_size, lines=2, events=1, quarantined=1
    )
    assert landed_since(module_warehouse_url, row[0]) == Landed()


@pytest.mark.slow  # a second full job run (~45 s); the piped run's test covers the default
def test_a_verbose_run_shows_dbts_lines_still_without_ansi_codes(
    first_run: subprocess.CompletedProcess[str], home: Path
) -> None:
    assert first_run.returncode == 0
    verbose = _dwh(home, "run", "--verbose", "--force")
    assert verbose.returncode == 0, verbose.stdout[-3000:] + verbose.stderr[-3000:]
    assert "Running with dbt=" in verbose.stdout
    assert len(DBT_NODE_LINE.findall(verbose.stdout)) > 10
    # Dagster's own log lines, on stderr
    assert "STEP_SUCCESS" in verbose.stderr
    assert ANSI not in verbose.stdout + verbose.stderr
    # the stage lines are still there
    assert re.search(r"^published: 17 tables to gold \(publication 2\), ", verbose.stdout, re.M)
