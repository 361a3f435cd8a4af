"""The fault tests' own PostgreSQL and Redis, which they stop, pause and start: a second pair of embedded
servers (portal/devservers.py) under var/test/faults with their own sockets, whatever DATABASE_URL and
REDIS_URL say, so stopping them can never break another test or another run's servers.

- `fault_broker`: a Valkey that is the broker of the test process and of the workers it starts; the
  cache (rate limits, the SMS budget) stays on the suite's Redis, so a test can take the broker away
  between the commit and the enqueue and nothing else.
- `fault_database`: a PostgreSQL holding a migrated test database; `on_fault_database()` points this
  process's connection at it, `fault_env()` the processes a test starts.
"""

import contextlib
import os
import signal
import time
from pathlib import Path

import kombu.pools
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from portal.celery import app as celery_app
from portal.devtools import devservers
from tests.conftest import WorkerProcesses, worker_env

FAULT_DIR = Path(settings.VAR_DIR) / "faults"
FAULT_DATABASE = "portal_fault_tests"


class FaultBroker:
    """The broker the test can take away: stop (a Redis restart, its messages gone), pause (a hung Redis:
    connections are accepted and never answered), start again."""

    url = devservers.broker_url(devservers.redis_url(FAULT_DIR))

    def stop(self) -> None:
        devservers.stop_redis(FAULT_DIR)

    def start(self) -> None:
        devservers.start_redis(FAULT_DIR)
        if celery_app.conf.broker_url == self.url:
            _use_broker(self.url)  # this process's pooled connections died with the old server

    def _pid(self) -> int:
        return int((devservers.redis_socket(FAULT_DIR).parent / "redis.pid").read_text())

    def kill(self) -> None:
        """kill -9 (it may be paused): whatever it held is gone."""
        pid = self._pid()
        os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)  # not our child (it daemonized): nothing to reap
        deadline = time.monotonic() + 30
        while devservers.redis_running(FAULT_DIR) and time.monotonic() < deadline:
            time.sleep(0.1)

    def pause(self) -> None:
        os.kill(self._pid(), signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self._pid(), signal.SIGCONT)


def _use_broker(url: str) -> None:
    """This process's Celery app sends to (and pings through) `url` from now on."""
    celery_app.conf.broker_url = url
    # the connection pools were made for the old URL or the old server (kombu keeps them by URL, globally)
    kombu.pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture(scope="session")
def fault_broker_server():
    broker = FaultBroker()
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def fault_broker(fault_broker_server):
    """The fault broker, this test's broker: running and empty at the start, the suite's again after."""
    broker = fault_broker_server
    with contextlib.suppress(ProcessLookupError, FileNotFoundError, ValueError):
        broker.resume()
    broker.start()
    previous = celery_app.conf.broker_url
    _use_broker(broker.url)
    celery_app.control.purge()
    try:
        yield broker
    finally:
        with contextlib.suppress(ProcessLookupError, FileNotFoundError, ValueError):
            broker.resume()
        _use_broker(previous)


@pytest.fixture
def broker_workers(fault_broker, transactional_db):
    """Real workers on the suite's test database whose broker is the fault broker."""
    workers = WorkerProcesses(settings.DATABASES["default"]["NAME"], env={"CELERY_BROKER_URL": fault_broker.url})
    yield workers
    workers.stop_all()


# --- PostgreSQL -----------------------------------------------------------------------------------------


def restart_postgres() -> None:
    """A fast shutdown (every connection cut, as a crash or a failover does) and a start."""
    devservers.stop_postgres(FAULT_DIR)
    devservers.start_postgres(FAULT_DIR)


def fault_env() -> dict:
    """The environment of a process the test starts (worker, web server) on the fault database."""
    env = worker_env()
    env["DATABASE_URL"] = devservers.database_url(FAULT_DIR, FAULT_DATABASE)
    return env


@contextlib.contextmanager
def on_fault_database():
    """Point this process's default connection at the fault database for as long as the block runs."""
    fields = ("NAME", "HOST", "PORT", "USER", "PASSWORD", "OPTIONS")
    saved = {field: connection.settings_dict.get(field) for field in fields}
    connection.close()
    connection.settings_dict.update(
        NAME=FAULT_DATABASE,
        HOST=str(devservers.postgres_dir(FAULT_DIR)),
        PORT="",
        USER=devservers.POSTGRES_USER,
        PASSWORD="",
        OPTIONS={},
    )
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)


@pytest.fixture(scope="session")
def fault_database(django_db_blocker):
    """The fault PostgreSQL with a freshly migrated database (made once a run)."""
    devservers.start_postgres(FAULT_DIR)
    with django_db_blocker.unblock():
        with devservers.postgres_admin(FAULT_DIR) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{FAULT_DATABASE}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{FAULT_DATABASE}"')
        with on_fault_database():
            call_command("migrate", verbosity=0, interactive=False)
    try:
        yield
    finally:
        devservers.stop_postgres(FAULT_DIR)


@pytest.fixture
def on_fault_db(fault_database, django_db_blocker):
    """A test on the fault database: emptied first; this process and what `fault_env()` starts use it."""
    with django_db_blocker.unblock(), on_fault_database():
        call_command("flush", verbosity=0, interactive=False)
        yield
