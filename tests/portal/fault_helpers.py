"""The portal served by gunicorn in a subprocess with one dependency stopped: its address points at a
port where nothing listens. The server's log is kept so a test can find the reference a page shows."""

import contextlib
import subprocess
import sys
import tempfile
import time

import httpx
from django.conf import settings

from tests.conftest import ROOT, free_port, stop_process, worker_env


@contextlib.contextmanager
def running_portal(*, database_down: bool = False, redis_down: bool = False):
    """Yield (base URL, a function returning the server's log so far)."""
    env = worker_env(settings.DATABASES["default"]["NAME"])
    if database_down:
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{free_port()}/portal"  # a port nothing listens on
    if redis_down:
        env["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"  # broker, results and cache alike
        env.pop("CELERY_BROKER_URL", None)
    log = tempfile.NamedTemporaryFile(prefix="portal-fault-", suffix=".log")
    process, url = start_portal(env, log)
    try:
        yield url, lambda: open(log.name, encoding="utf-8", errors="replace").read()
    finally:
        stop_process(process, timeout=15)
        log.close()


def start_portal(env: dict, log) -> tuple[subprocess.Popen, str]:
    """gunicorn (one worker) on a free loopback port, in a session of its own (a test may kill -9 the whole
    group, master and worker); returns once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "portal.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(900):  # 90 s: a generous bound for a start on a loaded machine
        if process.poll() is not None:
            raise AssertionError("gunicorn stopped: " + open(log.name, encoding="utf-8").read()[-2000:])
        try:
            httpx.get(url + "/favicon.ico", timeout=1)
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    stop_process(process)
    raise AssertionError("gunicorn did not answer within 90 s")


def carrier_file(rows: int) -> bytes:
    """A carrier's monthly CSV of `rows` good cancellations (a few chunks, so a fault can land between two)."""
    lines = ["phone_number,event_id,occurred_at,type"]
    lines += [f"138{i:08d},big-{i},2026-01-10T09:30:00+08:00,cancelled" for i in range(rows)]
    return ("\r\n".join(lines) + "\r\n").encode()
