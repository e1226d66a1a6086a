"""Real daphne processes for browser tests, the two-process test and benchmarks.

The process serves config.asgi with the test settings against the database the tests use (the test database that
pytest-django created), so rows a test commits are visible to it and rows it writes are visible to the test.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.request import urlopen

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def current_database_url() -> str:
    """A DATABASE_URL for the database this process is connected to now (the test database under pytest)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class DaphneServer:
    """``with DaphneServer() as server: server.url`` — a daphne subprocess on a free port, stopped on exit."""

    def __init__(self, *, redis_url: str | None = None, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws/"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "config.settings.test",
                "DATABASE_URL": current_database_url(),
                "DJANGO_SECRET_KEY": settings.SECRET_KEY,  # sessions made by the test client stay valid
                "PYTHONUNBUFFERED": "1",
            }
        )
        if redis_url is not None:
            env["REDIS_URL"] = redis_url
        # Signed audit digests of its own: digests another run left for a chain of the same name (tenant ids repeat
        # across test databases) would make this server's verifications report a cut chain.
        (ROOT / "var").mkdir(exist_ok=True)
        env["AUDIT_DIGEST_DIR"] = tempfile.mkdtemp(prefix="daphne-digests-", dir=ROOT / "var")
        env.update(extra_env or {})
        self.env = env
        self.log_path = ROOT / "var" / f"daphne-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> Self:
        self.log_path.parent.mkdir(exist_ok=True)
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "config.asgi:application"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"daphne exited: {self.log_path.read_text()[-3000:]}")
            try:
                with urlopen(f"{self.url}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()  # never leave a half-started daphne behind
        raise RuntimeError(f"daphne did not start: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.env["AUDIT_DIGEST_DIR"], ignore_errors=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
