"""Shared fixtures. The suite runs against real PostgreSQL and Redis and real Celery worker processes;
if either service cannot be reached the run stops at once with a message, never falling back."""

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


_embedded = None


def pytest_configure(config):
    """With DATABASE_URL / REDIS_URL unset, start the embedded servers under var/test/ for this run
    (reused if already running; stopped at the end only if this run started them)."""
    global _embedded
    from portal.devtools import devservers

    _embedded = devservers.for_settings(settings)
    try:
        _embedded.start()
    except Exception as error:
        pytest.exit(f"The embedded PostgreSQL or Redis could not be started: {error}", returncode=3)
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.exit(f"The tests need PostgreSQL; DATABASE_URL gives {db['ENGINE']}.", returncode=3)
    import psycopg

    host = db["HOST"] or db.get("OPTIONS", {}).get("host", "")
    try:
        psycopg.connect(
            host=host,
            port=db["PORT"] or 5432,
            user=db["USER"],
            password=db["PASSWORD"] or None,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except Exception as error:
        pytest.exit(f"PostgreSQL at {host}:{db['PORT']} cannot be reached: {error}", returncode=3)
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3)
        client.ping()
        client.flushdb()  # the test suite's own Redis database: stale test messages must not leak in
    except Exception as error:
        pytest.exit(f"Redis at {settings.REDIS_URL} cannot be reached: {error}", returncode=3)


def pytest_unconfigure(config):
    if _embedded is not None:
        _embedded.stop()


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()


def database_url(name: str) -> str:
    """A URL for another database on the suite's PostgreSQL server (the test database, for workers)."""
    db = settings.DATABASES["default"]
    if settings.EMBEDDED_POSTGRES:
        from portal.devtools import devservers

        return devservers.database_url(settings.VAR_DIR, name)
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{name}"


def worker_env(database_name: str | None = None) -> dict:
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "portal.settings.test"
    if database_name:
        env["DATABASE_URL"] = database_url(database_name)
    env["REDIS_URL"] = settings.REDIS_URL
    return env


class WorkerProcesses:
    """Real `celery worker` processes against the test database and the test Redis."""

    def __init__(self, database_name: str, env: dict | None = None):
        self.database_name = database_name
        self.env = env or {}  # on top of worker_env: the fault tests' own broker or database
        self.processes: list[subprocess.Popen] = []

    def start(self, name: str, *extra: str) -> subprocess.Popen:
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "-l",
            "WARNING",
            "-n",
            f"{name}@%h",
            "--without-gossip",
            "--without-mingle",
            *extra,
        ]
        process = subprocess.Popen(cmd, cwd=ROOT, env=worker_env(self.database_name) | self.env)
        self.processes.append(process)
        return process

    def wait_until_ready(self, count: int, timeout: float = 90.0) -> list[str]:
        from portal.celery import app

        deadline = time.time() + timeout
        while time.time() < deadline:
            replies = app.control.ping(timeout=0.5) or []
            if len(replies) >= count:
                return sorted(name for reply in replies for name in reply)
            time.sleep(0.2)
        raise AssertionError(f"{count} Celery worker(s) did not come up within {timeout}s")

    def stop_all(self):
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()


@pytest.fixture
def celery_workers(transactional_db):
    """Start real worker processes in a test; they see only what the test commits (hence transactional)."""
    workers = WorkerProcesses(settings.DATABASES["default"]["NAME"])
    yield workers
    workers.stop_all()


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    """Terminate a process the test started; kill it if it does not stop in time."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_simulator(*options: str):
    """The platform simulator (`manage.py run_simulator`) on a free port, for as long as the block runs."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_simulator", "--port", str(port), *options],
        cwd=ROOT,
        env=worker_env(),
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90  # a generous bound for start-up on a busy machine, not a timing check
    while True:
        try:
            httpx.get(url, timeout=0.5)
            break
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the simulator on port {port} did not start (exit code {process.poll()})")
            time.sleep(0.1)
    try:
        yield url
    finally:
        stop_process(process)


@pytest.fixture(scope="session")
def simulator():
    """The platform simulator: app02 hangs, app03 always fails, app04 answers garbage, app08 answers
    far too much, app09 signs with the wrong secret, the others behave."""
    with running_simulator(
        "--apps",
        "9",
        "--latency-ms",
        "20",
        "--hang",
        "app02",
        "--failing",
        "app03",
        "--garbage",
        "app04",
        "--huge",
        "app08",
        "--forged",
        "app09",
        "--unbind-refuse",
        "app06",
        "--unbind-later",
        "app07",
    ) as url:
        yield url


@pytest.fixture(autouse=True)
def _force_login_passes_totp(monkeypatch):
    """`client.force_login(staff)` stands for a whole sign-in: the password and, for a user with TOTP (the
    factories' users have one unless made with totp_secret=False), the code. Tests of the second factor
    itself sign in through allauth's pages instead."""
    from django.test import Client

    from registry.middleware import has_totp, second_factor_record

    force_login = Client.force_login

    def force_login_with_totp(self, user, backend=None):
        force_login(self, user, backend)
        if has_totp(user):
            session = self.session
            second_factor_record(session, user)
            session.save()

    monkeypatch.setattr(Client, "force_login", force_login_with_totp)
