"""Serving the app: in the foreground (`dwh serve`) or in a thread on a loopback port (tests,
the benchmark)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from api.app import create_app
from warehouse.database import database_url
from warehouse.settings import load_settings


def app_from_settings() -> FastAPI:
    """The app for the warehouse of the settings (`uvicorn --factory`, the benchmark)."""
    settings = load_settings()
    return create_app(
        database_url(settings),
        rate_per_second=settings.api_rate_per_second,
        burst=settings.api_burst,
        pool_size=settings.api_pool_size,
    )


def serve(database_url: str, host: str = "127.0.0.1", port: int = 8080) -> None:
    settings = load_settings()
    app = create_app(
        database_url,
        rate_per_second=settings.api_rate_per_second,
        burst=settings.api_burst,
        pool_size=settings.api_pool_size,
    )
    # one worker process: the rate limiter and the pool are per process
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)


@dataclass
class RunningServer:
    server: uvicorn.Server
    thread: threading.Thread
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def start_in_thread(
    database_url: str,
    *,
    rate_per_second: float = 1000.0,
    burst: int = 1000,
    pool_size: int = 8,
    token_seconds: int = 900,
) -> RunningServer:
    """The API on a free loopback port, served by a thread of this process, started."""
    app = create_app(
        database_url,
        rate_per_second=rate_per_second,
        burst=burst,
        pool_size=pool_size,
        token_seconds=token_seconds,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="api-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    return RunningServer(server, thread, port)
