"""Faults around runs of the job: skipped checks, concurrent runs, killed and broken runs.

Where the fault is about processes, the tests start the real CLI (`python -m dwh.cli`) as
subprocesses on a test database. One small data set is generated once for the module; one
database (`reference`) runs the job on it twice, and its gold is what every other run of the
same data must equal. The expensive cases are marked slow (`pytest -m slow`).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest

from devtools.embedded import EmbeddedPostgres
from dwh.runner import RunReport, run_warehouse_job
from ingestion.generator import GeneratorConfig, generate
from tests.conftest import DatabaseFactory
from tests.events import event, query, write_events
from tests.test_warehouse_job import MARTS
from warehouse.database import acquire_run_lock, release_run_lock
from warehouse.settings import PROJECT_ROOT

# The dbt tests of gold marts that also read an affinity seed (dbt_project/models/gold/affinity
# and dbt_project/tests): dbt's eager exclusion dropped them with their unchanged seed.
TESTS_READING_SEEDS = {
    ("fct_affinity_ledger", "affinity_level_matches_value_fct_affinity_ledger_"),
    ("fct_affinity_ledger", "affinity_value_within_bounds_fct_affinity_ledger_after_value"),
    ("fct_affinity_ledger", "affinity_within_global_daily_cap_fct_affinity_ledger_"),
    ("fct_affinity_ledger", "affinity_within_rule_daily_cap_fct_affinity_ledger_"),
    ("dim_affinity_device", "affinity_value_within_bounds_dim_affinity_device_favorability"),
}
REVENUE_KEY_TEST = "unique_combination_fct_revenue_daily_day__brand_id__region__currency"


def gold_fingerprint(url: str) -> dict[str, tuple[int, str]]:
    """Per gold mart: row count and a digest of every row."""
    return {
        mart: query(
            url,
            f"select count(*), md5(coalesce(string_agg(t::text, '|' order by t::text), '')) "
            f"from gold.{mart} t",
        )[0]
        for mart in MARTS
    }


def checks_of_run(run_id: str) -> tuple[dict[tuple[str, str], bool], list[str]]:
    """(asset, check) -> passed, and the text of every log message, from the run's events in
    the instance under DAGSTER_HOME."""
    import dagster as dg

    instance = dg.DagsterInstance.get()
    evaluations: dict[tuple[str, str], bool] = {}
    messages = []
    for entry in instance.all_logs(run_id):
        messages.append(entry.user_message or "")
        event = entry.dagster_event
        if event is not None and event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            data = event.event_specific_data
            evaluations[(data.asset_key.path[-1], data.check_name)] = data.passed
    return evaluations, messages


def blocking_candidate_checks() -> set[tuple[str, str]]:
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    return {
        (key.asset_key.path[-1], key.name)
        for key in graph.asset_check_keys
        if key.asset_key.path[0] == "gold_candidate" and graph.get_check_spec(key).blocking
    }


# -- the shared data set and its reference database --------------------------------------------
@dataclass
class Reference:
    url: str
    dataset: Path
    first: RunReport
    second: RunReport
    gold: dict[str, tuple[int, str]]
    seeds_after_first: dict[str, Any]
    seeds_after_second: dict[str, Any]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dataset")
    generate(GeneratorConfig(players=40, days=2, seed=3, start_date=date(2026, 3, 1)), out)
    return out


@pytest.fixture(scope="module")
def reference(
    module_warehouse_url: str, dataset: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Reference]:
    home = tmp_path_factory.mktemp("reference_home")
    landing = home / "landing"
    shutil.copytree(dataset, landing)
    seeds_sql = "select unique_id, loaded_at from audit.seed_state"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DWH_HOME", str(home))
        patch.setenv("DWH_LANDING_DIR", str(landing))
        # a persistent instance of the module's own: the tests read the runs' events
        patch.setenv("DAGSTER_HOME", str(home / "dagster"))
        first = run_warehouse_job()
        assert first.success, first.failure
        seeds_first = dict(query(module_warehouse_url, seeds_sql))
        # nothing new, and every seed unchanged (forced: a plain run would be a no-op)
        second = run_warehouse_job(force=True)
        assert second.success, second.failure
        yield Reference(
            url=module_warehouse_url,
            dataset=dataset,
            first=first,
            second=second,
            gold=gold_fingerprint(module_warehouse_url),
            seeds_after_first=seeds_first,
            seeds_after_second=dict(query(module_warehouse_url, seeds_sql)),
        )


# -- item: blocking checks are never skipped silently -------------------------------------------
@pytest.mark.slow  # a fault test: two runs of the job for its reference
def test_unchanged_seeds_still_run_the_blocking_tests_that_read_them(
    reference: Reference,
) -> None:
    # the second run is the one with unchanged seeds: none was reloaded
    assert reference.seeds_after_second == reference.seeds_after_first
    assert len(reference.seeds_after_first) == 6
    evaluations, messages = checks_of_run(reference.second.run_id)
    assert not [m for m in messages if "emitted no result" in m]
    for mart, test in TESTS_READING_SEEDS:
        assert evaluations.get((mart, test)) is True, (mart, test)
    # every blocking check of every candidate mart was evaluated in this run, and passed
    blocking = blocking_candidate_checks()
    assert blocking >= TESTS_READING_SEEDS
    assert {check: evaluations.get(check) for check in blocking} == dict.fromkeys(blocking, True)
    assert reference.second.step("publish_gold").materializations == len(MARTS)


@pytest.mark.slow  # a fault test: two runs of the job for its reference
def test_a_blocking_check_without_result_blocks_publication(
    reference: Reference, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # new data for the candidates, so that a publication would change gold
    landing = tmp_path / "landing"
    write_events(
        landing / "one.ndjson",
        [
            event(
                "bet.settled",
                "2026-03-02 12:00:00",
                event_id="fault-1",
                brand="brand-9",
                bet_id="fb",
                game_id="g",
                provider_id="p",
                stake_minor=1000,
                win_minor=250,
                currency="EUR",
                in_bonus=False,
            )
        ],
    )
    monkeypatch.setenv("DWH_HOME", str(tmp_path / "home"))
    published_before = query(
        reference.url, "select count(*) from audit.publications where status = 'published'"
    )
    # leave one blocking dbt test of fct_revenue_daily out: its check emits no result
    report = run_warehouse_job(
        ephemeral_instance=True, landing_dir=landing, dbt_exclude=REVENUE_KEY_TEST
    )
    assert not report.success
    assert report.failed_step == "publish_gold"
    check = f"gold_candidate/fct_revenue_daily:{REVENUE_KEY_TEST}"
    assert report.failure is not None and check in report.failure
    # the candidate has the new row, gold does not
    revenue_sql = (
        "select stake_minor, win_minor from {}.fct_revenue_daily where brand_id = 'brand-9'"
    )
    assert query(reference.url, revenue_sql.format("gold_candidate")) == [(1000, 250)]
    assert gold_fingerprint(reference.url) == reference.gold
    [(status, unmet)] = query(
        reference.url,
        "select status, check_results -> 'unmet_blocking_checks' from audit.publications "
        "order by publication_id desc limit 1",
    )
    assert (status, unmet) == ("blocked", {check: "no result"})
    assert (
        query(reference.url, "select count(*) from audit.publications where status = 'published'")
        == published_before
    )


# -- CLI subprocesses ---------------------------------------------------------------------------
def dwh_env(home: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DWH_HOME": str(home),
            "DAGSTER_HOME": str(home / "dagster"),
            "DWH_LANDING_DIR": str(home / "landing"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def _as_from_a_terminal() -> None:
    # The child starts with the signal state of a command typed in a terminal, whatever the
    # test process inherited: a non-interactive shell's background job (make test under CI)
    # ignores SIGINT, and a thread of an earlier test may have left signals blocked.
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def start_dwh(*args: str, env: dict[str, str], out: Path) -> subprocess.Popen[bytes]:
    # stdout and stderr to files (a pipe nobody reads would block the run)
    return subprocess.Popen(
        [sys.executable, "-m", "dwh.cli", *args],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=(out.with_suffix(".out")).open("wb"),
        stderr=(out.with_suffix(".err")).open("wb"),
        preexec_fn=_as_from_a_terminal,
    )


def outputs(out: Path) -> tuple[str, str]:
    return out.with_suffix(".out").read_text(), out.with_suffix(".err").read_text()


def error_lines(stderr: str) -> list[str]:
    # (a fresh Dagster instance also prints its one-time telemetry notice on stderr)
    return [line for line in stderr.splitlines() if line.startswith("dwh:")]


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # the parent pid is the 2nd field after the command name, which may hold spaces
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> set[int]:
    tree, found, todo = children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def dbt_build_child(pid: int) -> int | None:
    for child in descendants(pid):
        line = cmdline(child)
        if "dbt" in line and " build" in line:
            return child
    return None


# -- item: one run at a time ------------------------------------------------------------------
def test_a_run_waits_for_the_warehouse_or_with_no_wait_exits_at_once(
    warehouse_url: str, tmp_path: Path
) -> None:
    env = dwh_env(tmp_path / "home")
    assert acquire_run_lock(warehouse_url, holder="test holder")
    try:
        started = time.monotonic()
        no_wait = subprocess.run(
            [sys.executable, "-m", "dwh.cli", "run", "--no-wait"],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert no_wait.returncode == 75
        [line] = error_lines(no_wait.stderr)
        assert line.startswith("dwh: error: another run holds the warehouse: test holder")
        assert line.endswith("(--no-wait: not waiting)")
        assert time.monotonic() - started < 60  # at once: no dbt parse, no job

        waiting = start_dwh("run", env=env, out=tmp_path / "waiting")
        try:
            wait_for(
                lambda: "waiting for it to finish" in outputs(tmp_path / "waiting")[0],
                60,
                "the waiting message",
            )
            time.sleep(2)
            assert waiting.poll() is None  # still waiting, nothing done meanwhile
            assert query(warehouse_url, "select to_regclass('raw.load_batches')") == [(None,)]
        finally:
            waiting.send_signal(signal.SIGINT)  # Ctrl-C
            waiting.wait(30)
    finally:
        release_run_lock(warehouse_url)
    out, _ = outputs(tmp_path / "waiting")
    assert "another run holds the warehouse: test holder" in out


def test_a_run_launched_by_dagster_takes_the_run_lock_too(
    warehouse_url: str, tmp_path: Path
) -> None:
    # as the daemon or the UI would: the job itself, not through dwh/runner.py
    import dagster as dg

    from warehouse.database import RUN_LOCK_KEY
    from warehouse.dbt import prepare_manifest

    prepare_manifest(warehouse_url)
    from orchestration.definitions import defs

    job = defs.resolve_job_def("warehouse")
    (tmp_path / "landing").mkdir()

    def run_landing(wait: bool) -> tuple[bool, str]:
        # the instance is made and disposed of in the thread that runs the job (its SQLite
        # connections belong to that thread)
        with dg.DagsterInstance.ephemeral() as instance:
            result = job.execute_in_process(
                run_config={
                    "ops": {
                        "land_event_files": {"config": {"landing_dir": str(tmp_path / "landing")}}
                    },
                    "resources": {"warehouse": {"config": {"wait_for_lock": wait}}},
                },
                op_selection=["land_event_files"],
                instance=instance,
                raise_on_error=False,
            )
            return result.success, str(result.all_events)

    holder = psycopg.connect(warehouse_url, autocommit=True)
    try:
        holder.execute("select pg_advisory_lock(%s)", [RUN_LOCK_KEY])
        busy, events = run_landing(wait=False)
        assert not busy
        assert "another run holds the warehouse" in events
        assert query(warehouse_url, "select to_regclass('raw.load_batches')") == [(None,)]

        results: list[tuple[bool, str]] = []
        waiter = threading.Thread(target=lambda: results.append(run_landing(wait=True)))
        waiter.start()
        wait_for(
            lambda: (
                query(
                    warehouse_url,
                    "select count(*) from pg_stat_activity where application_name like "
                    "'dagster run %%'",
                )
                == [(1,)]
            ),
            60,
            "the run to wait for the lock",
        )
        time.sleep(2)  # the run polls for the lock: still waiting, and nothing landed
        assert results == []
        assert query(warehouse_url, "select to_regclass('raw.load_batches')") == [(None,)]
    finally:
        holder.close()  # the lock goes with the session
    waiter.join(120)
    [(done, _)] = results
    assert done
    assert query(warehouse_url, "select count(*) from raw.load_batches") == [(0,)]
    # and the lock was released at the end of the run
    assert query(warehouse_url, f"select pg_try_advisory_lock({RUN_LOCK_KEY})") == [(True,)]


def test_the_instance_queues_the_warehouse_s_runs_one_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dwh.runner import dagster_instance
    from warehouse.settings import load_settings

    home = tmp_path / "dagster"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    # the file an earlier version wrote is brought up to date
    (home / "dagster.yaml").write_text("run_retries:\n  enabled: true\n  max_retries: 0\n")
    queue = dagster_instance(load_settings()).get_concurrency_config().run_queue_config
    assert queue.tag_concurrency_limits == [{"key": "dwh/warehouse", "limit": 1}]
    # a file of the user's own is left as it is
    (home / "dagster.yaml").write_text("run_retries:\n  enabled: false\n")
    queue = dagster_instance(load_settings()).get_concurrency_config().run_queue_config
    assert queue.tag_concurrency_limits == []


@pytest.mark.slow
def test_two_runs_started_together_both_succeed_and_publish_one_run_s_gold(
    reference: Reference, databases: DatabaseFactory, tmp_path: Path
) -> None:
    url = databases.create()
    home = tmp_path / "home"
    shutil.copytree(reference.dataset, home / "landing")
    env = dwh_env(home, DWH_DATABASE_URL=url)
    runs = [start_dwh("run", env=env, out=tmp_path / name) for name in ("a", "b")]
    for run in runs:
        run.wait(1200)
    results = [outputs(tmp_path / name) for name in ("a", "b")]
    assert [run.returncode for run in runs] == [0, 0], results
    assert sum("waiting for it to finish" in out for out, _ in results) == 1
    assert gold_fingerprint(url) == reference.gold
    # every file landed once
    assert query(url, "select count(*) from raw.load_batches") == [
        (len(list(reference.dataset.rglob("*.ndjson*"))),)
    ]


# -- item: a killed run leaves nothing behind -------------------------------------------------
@pytest.mark.slow
def test_kill_9_of_a_run_kills_dbt_too_and_a_rerun_is_exact(
    reference: Reference, databases: DatabaseFactory, tmp_path: Path
) -> None:
    url = databases.create()
    home = tmp_path / "home"
    shutil.copytree(reference.dataset, home / "landing")
    env = dwh_env(home, DWH_DATABASE_URL=url)
    run = start_dwh("run", env=env, out=tmp_path / "killed")
    wait_for(lambda: dbt_build_child(run.pid) is not None, 300, "dbt build to start")
    time.sleep(3)  # dbt is building
    family = descendants(run.pid)
    assert family, "the run has children"
    run.send_signal(signal.SIGKILL)
    run.wait(10)
    wait_for(lambda: not [p for p in family if alive(p)], 5, "every child of the run to exit")

    rerun = subprocess.run(
        [sys.executable, "-m", "dwh.cli", "run"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr
    assert gold_fingerprint(url) == reference.gold


# -- items: landing failure and a database that goes away -------------------------------------
@pytest.mark.slow  # a fault test
def test_steps_after_a_failed_landing_are_reported_skipped(
    warehouse_url: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    (home / "landing").mkdir(parents=True)
    (home / "landing" / "bad.ndjson.gz").write_bytes(b"\x1f\x8b\x08\x00 not gzip")
    proc = subprocess.run(
        [sys.executable, "-m", "dwh.cli", "run"],
        cwd=PROJECT_ROOT,
        env=dwh_env(home),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1
    steps = {
        match[1]: match[2]
        for match in re.finditer(r"^  (\w+) +(ok|FAILED|skipped)\b", proc.stdout, re.MULTILINE)
    }
    assert steps == {
        "land_event_files": "FAILED",
        "warehouse_dbt_assets": "skipped",
        "validate_gold_candidates": "skipped",
        "publish_gold": "skipped",
        "gold_freshness": "skipped",
    }
    assert "Traceback" not in proc.stdout + proc.stderr
    assert error_lines(proc.stderr)[0].startswith("dwh: error: step land_event_files failed:")
    assert "bad.ndjson.gz" in proc.stderr


@pytest.mark.slow
def test_db_stop_during_a_run_is_one_clear_error_line(reference: Reference, tmp_path: Path) -> None:
    # an embedded server of its own: `dwh db stop` stops the server of DWH_HOME
    home = Path(tempfile.mkdtemp(prefix="dwh-fault-"))  # reachable by the server's own user
    try:
        shutil.copytree(reference.dataset, home / "landing")
        env = dwh_env(home)
        env.pop("DWH_DATABASE_URL", None)
        dwh = [sys.executable, "-m", "dwh.cli"]
        subprocess.run([*dwh, "db", "start"], env=env, check=True, capture_output=True)
        run = start_dwh("run", env=env, out=tmp_path / "run")
        wait_for(lambda: dbt_build_child(run.pid) is not None, 300, "dbt build to start")
        time.sleep(3)
        subprocess.run([*dwh, "db", "stop"], env=env, check=True, capture_output=True)
        run.wait(300)
        out, err = outputs(tmp_path / "run")
        assert run.returncode == 1, out[-3000:] + err
        [line] = error_lines(err)
        assert line.startswith(
            "dwh: error: the database went away during step warehouse_dbt_assets: "
        )
        assert "Traceback" not in out + err
    finally:
        EmbeddedPostgres(home).stop()
        shutil.rmtree(home, ignore_errors=True)


def test_the_dbt_child_exits_when_its_parent_dies(tmp_path: Path) -> None:
    # the watchdog of warehouse/dbt_child.py in a child of a shell that is then killed -9
    marker = tmp_path / "child.pid"
    child_code = "from warehouse.dbt_child import start_watchdog; start_watchdog(); "
    child_code += "import time; time.sleep(60)"
    script = f"'{sys.executable}' -c '{child_code}' & echo $! > '{marker}'; exec sleep 60"
    shell = subprocess.Popen(["/bin/sh", "-c", script], cwd=PROJECT_ROOT)
    wait_for(lambda: marker.exists() and marker.read_text().strip() != "", 10, "the child")
    child = int(marker.read_text())
    time.sleep(1)
    assert alive(child)
    shell.send_signal(signal.SIGKILL)
    shell.wait(5)
    wait_for(lambda: not alive(child), 5, "the orphaned child to exit")
