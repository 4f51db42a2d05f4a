"""Where dbt's lines go during a build.

dagster-dbt re-prints every line dbt logs to `sys.stdout` while it turns dbt's events into
Dagster's (dagster_dbt/core/dbt_cli_invocation.py, `stream_raw_events`): about 2 lines per
node, some 400 for this project. Under `dagster dev` that is the step's captured stdout, which
is where they belong. A CLI run asks for them in a log file instead (`DbtLines`), and prints
its own progress (dwh/progress.py reads that file); `--verbose` asks for both.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO, TypeVar

T = TypeVar("T")

# SGR and cursor sequences: a log file is read with less and grep, not a terminal
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class DbtLines(io.TextIOBase):
    """A text stream standing in for stdout: each line goes to `log_file` (timestamped, without
    colours) and, when `echo` is given, to it as written."""

    def __init__(self, log_file: Path | None, echo: TextIO | None = None) -> None:
        super().__init__()
        self._echo = echo
        self._file: TextIO | None = None
        if log_file is not None:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            self._file = log_file.open("a", encoding="utf-8")
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self._echo is not None:
            self._echo.write(text)
        if self._file is not None:
            *lines, self._partial = (self._partial + text).split("\n")
            stamp = dt.datetime.now(dt.UTC).strftime("%H:%M:%S")
            for line in lines:
                self._file.write(f"{stamp}  {ANSI.sub('', line)}\n")
        return len(text)

    def flush(self) -> None:
        # The progress reader follows the file line by line: every line is flushed at once.
        if self._echo is not None:
            self._echo.flush()
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            if self._partial:
                self._file.write(ANSI.sub("", self._partial) + "\n")
                self._partial = ""
            self._file.close()
            self._file = None
        super().close()


def redirected(events: Iterable[T], lines: DbtLines) -> Iterator[T]:
    """`events`, drawn with stdout sent to `lines` while each one is produced, and only then:
    what Dagster prints while it handles an event is not dbt's."""
    iterator = iter(events)
    while True:
        with contextlib.redirect_stdout(lines):
            try:
                event = next(iterator)
            except StopIteration:
                return
        yield event
