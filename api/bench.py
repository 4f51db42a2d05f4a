"""The API under a bounded loopback load: `run_api_bench(database_url)` (for `dwh bench --api`).

The server runs in a child process (`uvicorn`, one worker, the rate limit lifted), so the load
generator's threads do not share its interpreter. A temporary client of the busiest brand is
made for the run and revoked after it. Each request type is sent `requests` times by
`concurrency` threads, each with a keep-alive connection of its own, after a few warm-up
requests; the answer is its latency percentiles (nearest rank) and requests per second.
Parameters are read from the data: the last full day, the busiest brand, a player and task.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import math
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import psycopg

from api.clients import create_client, revoke_client
from warehouse import schemas
from warehouse.settings import PROJECT_ROOT, child_environment

# request type -> target p95 in ms (the table)
TARGETS_MS = {
    "timeseries 5m, one brand, 24 h": 50.0,
    "slice, top 50 games by RTP, one day": 100.0,
    "retention, a month of cohorts": 200.0,
    "funnel, 4 steps, 30 days": 1000.0,
    "points, one player and task": 20.0,
}


@dataclass(frozen=True)
class Figure:
    requests: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests_per_second: float
    target_p95_ms: float


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: bytes | None = None


def _percentile(sorted_ms: list[float], q: float) -> float:
    if not sorted_ms:
        return math.nan
    return sorted_ms[max(0, math.ceil(q * len(sorted_ms)) - 1)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _parameters(conn: psycopg.Connection) -> dict[str, Any]:
    last_day, brand = conn.execute(
        f"select max(day), (select brand_id from {schemas.GOLD}.fct_revenue_daily "
        "group by 1 order by count(*) desc, 1 limit 1) "
        f"from {schemas.GOLD}.fct_revenue_daily"
    ).fetchone()  # type: ignore[misc]
    if last_day is None:
        raise RuntimeError("gold has no revenue: run the warehouse job before the API bench")
    point = conn.execute(
        f"select game_id, task_id, player_id from {schemas.GOLD}.fct_points_user_task "
        "where brand_id = %s order by awards desc, 1, 2, 3 limit 1",
        [brand],
    ).fetchone()
    return {"brand": brand, "last_day": last_day, "point": point or ("g", "t", "p")}


def _calls(p: dict[str, Any]) -> dict[str, Call]:
    day: dt.date = p["last_day"]
    # the last day may be partial: the day before is the last full one
    full = day - dt.timedelta(days=1)
    game, task, player = p["point"]

    def get(path: str, **params: Any) -> Call:
        return Call("GET", f"{path}?{urllib.parse.urlencode(params)}")

    def post(path: str, body: dict[str, Any]) -> Call:
        return Call("POST", path, json.dumps(body).encode())

    return {
        "timeseries 5m, one brand, 24 h": get(
            "/v1/analytics/timeseries",
            metric="ggr",
            granularity="5m",
            **{"from": full.isoformat(), "to": day.isoformat()},
            filters=f"brand_id:{p['brand']}",
            limit=10000,
        ),
        "slice, top 50 games by RTP, one day": get(
            "/v1/analytics/slice",
            metric="rtp",
            dim="game_id",
            **{"from": full.isoformat(), "to": day.isoformat()},
            limit=50,
        ),
        "retention, a month of cohorts": post(
            "/v1/analytics/retention",
            {
                "cohort": "registration",
                "start_date": (day - dt.timedelta(days=30)).isoformat(),
                "end_date": day.isoformat(),
                "days": [1, 7, 14, 30],
            },
        ),
        "funnel, 4 steps, 30 days": post(
            "/v1/analytics/funnel",
            {
                "steps": [
                    {"event": "payment.intent"},
                    {"event": "payment.authorized"},
                    {"event": "payment.captured"},
                    {"event": "wallet.credit", "reason": "deposit"},
                ],
                "window_sec": 3600,
                "from": (day - dt.timedelta(days=29)).isoformat(),
                "to": (day + dt.timedelta(days=1)).isoformat(),
            },
        ),
        "points, one player and task": get(
            f"/v1/points/games/{urllib.parse.quote(game)}/tasks/{urllib.parse.quote(task)}"
            f"/players/{urllib.parse.quote(player)}",
            seconds=3600,
            minutes=5,
        ),
    }


def _token(port: int, client_id: str, secret: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    form = urllib.parse.urlencode(
        {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    )
    conn.request(
        "POST", "/v1/oauth/token", form, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"the API refused the bench's client: {body}")
    return str(body["access_token"])


def _load(port: int, token: str, call: Call, requests: int, concurrency: int) -> Figure:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    remaining = [requests]

    def worker() -> None:
        nonlocal errors
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if remaining[0] <= 0:
                    break
                remaining[0] -= 1
            started = time.perf_counter()
            conn.request(call.method, call.path, call.body, headers)
            response = conn.getresponse()
            response.read()
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                errors += response.status != 200
        conn.close()

    for _ in range(3):  # warm-up: plans, the pool's connections, caches
        single = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        single.request(call.method, call.path, call.body, headers)
        single.getresponse().read()
        single.close()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    ordered = sorted(latencies)
    return Figure(
        requests=len(ordered),
        errors=errors,
        p50_ms=round(_percentile(ordered, 0.50), 2),
        p95_ms=round(_percentile(ordered, 0.95), 2),
        p99_ms=round(_percentile(ordered, 0.99), 2),
        requests_per_second=round(len(ordered) / wall, 1) if wall else math.nan,
        target_p95_ms=0.0,
    )


def _start_server(database_url: str, port: int, pool_size: int) -> subprocess.Popen[bytes]:
    env = child_environment(
        {
            "DWH_DATABASE_URL": database_url,
            "DWH_API_RATE": "1000000",
            "DWH_API_BURST": "1000000",
            "DWH_API_POOL_SIZE": str(pool_size),
        }
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "api.server:app_from_settings",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the API server exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the API server did not start within 60 s")


def run_api_bench(
    database_url: str,
    *,
    concurrency: int = 8,
    requests: int = 200,
    echo: Callable[[str], None] = lambda _: None,
) -> dict[str, Figure]:
    """Latency and throughput per request type, against the published gold of `database_url`."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        p = _parameters(conn)
        name = f"bench-{int(time.time())}-{_free_port()}"
        made = create_client(conn, name, [p["brand"]])
    port = _free_port()
    server = _start_server(database_url, port, pool_size=max(2, concurrency))
    try:
        token = _token(port, made.client.client_id, made.secret)
        figures = {}
        for label, call in _calls(p).items():
            echo(f"api: {label} ...")
            figure = _load(port, token, call, requests, concurrency)
            figures[label] = Figure(**{**asdict(figure), "target_p95_ms": TARGETS_MS[label]})
        return figures
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        with psycopg.connect(database_url, autocommit=True) as conn:
            revoke_client(conn, name)


def format_figures(figures: dict[str, Figure]) -> str:
    lines = [
        "| request | p50 ms | p95 ms | p99 ms | requests/s | target p95 | errors |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, f in figures.items():
        lines.append(
            f"| {label} | {f.p50_ms:.1f} | {f.p95_ms:.1f} | {f.p99_ms:.1f} | "
            f"{f.requests_per_second:,.0f} | {f.target_p95_ms:.0f} ms | {f.errors} |"
        )
    return "\n".join(lines)
