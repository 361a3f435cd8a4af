"""What every benchmark does first: its own PostgreSQL database and Redis database (never the shared
`portal` / `test_portal`), production-like settings, a fresh schema, and child processes started from
the project root. Import it before Django is set up."""

import atexit
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def configure(*, database: str, redis_db: int, log_level: str = "WARNING", **env: str) -> None:
    os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{database}")
    os.environ.setdefault("REDIS_URL", f"redis://127.0.0.1:6379/{redis_db}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")
    os.environ.setdefault("CONN_MAX_AGE", "60")  # as production: a worker keeps its connection between tasks
    os.environ["DEBUG"] = "false"
    os.environ["LOG_LEVEL"] = log_level
    os.environ.update(env)


def prepare_database() -> None:
    """Drop and create the benchmark's database, then migrate it."""
    import psycopg

    name = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
    assert name not in ("portal", "test_portal"), "never the shared databases"
    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, check=True)


def start(cmd: list[str]) -> subprocess.Popen:
    """A child process (worker, simulator) from the project root, its output discarded. It is stopped
    when the benchmark exits, even on an error: a worker left behind would take the next run's tasks."""
    child = subprocess.Popen([sys.executable, *cmd], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    atexit.register(_stop, child)
    return child


def _stop(child: subprocess.Popen) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
