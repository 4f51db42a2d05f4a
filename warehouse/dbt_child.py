"""dbt as a child that dies with its parent: `python -m warehouse.dbt_child ARGS` is `dbt ARGS`.

dagster-dbt starts dbt as a plain subprocess. When the run's process is killed (kill -9, an OOM
kill), nothing tells dbt: it is reparented and goes on building into the warehouse while the
next run starts. This wrapper runs dbt's own CLI in this process and exits as soon as the
parent is gone, by two means: the kernel's parent-death signal (PR_SET_PDEATHSIG), which fires
when the *thread* that forked exits, and a watchdog thread that notices the parent pid change,
whichever thread started us. The database rolls back whatever dbt had not committed.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
WATCH_INTERVAL_SECONDS = 0.5
ORPHANED_EXIT_CODE = 137


def _set_parent_death_signal() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the watchdog alone
        pass


def _watch(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            # The parent is gone; no cleanup in this process can be trusted to finish.
            os._exit(ORPHANED_EXIT_CODE)
        time.sleep(WATCH_INTERVAL_SECONDS)


def start_watchdog() -> None:
    parent = os.getppid()
    _set_parent_death_signal()
    if os.getppid() != parent:  # the parent died while the signal was being armed
        os._exit(ORPHANED_EXIT_CODE)
    threading.Thread(target=_watch, args=(parent,), name="parent-watchdog", daemon=True).start()


def main() -> int:
    start_watchdog()
    from dbt.cli.main import cli

    sys.argv[0] = "dbt"
    try:
        cli()
    except SystemExit as exc:  # click exits with dbt's code
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
