"""`make run`: the embedded PostgreSQL and Redis (when no URL is set), migrations and the demo data, then
the web server, a Celery worker, beat and the platform simulator in one terminal; Ctrl-C stops all of
them, servers included."""

import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from portal.devtools import devservers
from portal.devtools.demo import DEMO_PASSWORD, STAFF


class Command(BaseCommand):
    help = "Run the site with its worker, beat and simulator (and the embedded servers) for development."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--no-demo", action="store_true", help="do not load the demo data")

    def handle(self, *args, port, host, no_demo, **options):
        # Ctrl-C, a hang-up or a kill all end in the same clean stop, even where SIGINT was ignored.
        def stop(signum, frame):
            raise KeyboardInterrupt

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, stop)
        servers = devservers.for_settings(settings)
        running: dict[str, subprocess.Popen] = {}
        try:
            self.start_servers(servers)
            self.stdout.write("Migrating the database …")
            call_command("migrate", interactive=False, verbosity=0)
            if not no_demo:
                call_command("load_demo", stdout=self.stdout)
            env = dict(os.environ)
            if os.geteuid() == 0:  # Celery's advice against root is for servers; a newcomer's container is root
                env["PYTHONWARNINGS"] = "ignore:You're running the worker with superuser privileges"
            running = {
                name: subprocess.Popen(cmd, start_new_session=True, env=env)
                for name, cmd in self.processes(host, port).items()
            }
            self.wait_for_web(host, port, running)
            self.banner(host, port)
            while all(p.poll() is None for p in running.values()):
                time.sleep(0.5)
            dead = [name for name, p in running.items() if p.poll() is not None]
            self.stderr.write(f"{', '.join(dead)} stopped; stopping the rest.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping …")
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C must not leave servers behind
            self.stop_processes(running)
            servers.stop()
            self.stdout.write("Stopped.")

    def start_servers(self, servers: devservers.EmbeddedServers) -> None:
        wanted = [name for name, on in (("PostgreSQL", servers.want_postgres), ("Redis", servers.want_redis)) if on]
        if not wanted:
            return
        self.stdout.write(f"Starting the embedded {' and '.join(wanted)} under {servers.var_dir} …")
        servers.start()

    @staticmethod
    def processes(host: str, port: int) -> dict[str, list[str]]:
        python = sys.executable
        var = str(settings.VAR_DIR)
        return {
            "web": [python, "manage.py", "runserver", f"{host}:{port}"],
            # INFO shows each lookup's, unbind's and notice's tasks; sweeps that found nothing stay quiet
            # (portal.celery.QuietSweeps)
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "portal",
                "--quiet",
                "worker",
                "-l",
                "INFO",
                "-n",
                "worker@%h",
                "--concurrency",
                "4",
                "--without-gossip",
                "--without-mingle",
            ],
            "beat": [
                python,
                "-m",
                "celery",
                "-A",
                "portal",
                "--quiet",
                "beat",
                "-l",
                "WARNING",
                "-s",
                f"{var}/celerybeat-schedule",
            ],
            # the demo's 16 member apps (registry.demo points their integrations here)
            # unbinding: 示例支付 (app03) refuses, 示例邮箱 (app02) accepts and answers itself after 20 s,
            # 示例网盘 (app04) accepts and leaves the answer to its staff (platform@demo.portal's console);
            # notices: every app reports back the bindings it removed
            "simulator": [
                python,
                "manage.py",
                "run_simulator",
                "--port",
                "8900",
                "--apps",
                "16",
                "--latency-ms",
                "150",
                "--unbind-refuse",
                "app03",
                "--unbind-later",
                "app02=20",
                "--unbind-later",
                "app04",
                "--report-back",
                "--portal-url",
                f"http://{host}:{port}",
                # 示例营业厅 (app15, the demo carrier's app) serves a subscriber through the carrier API every 2 min
                "--carrier-app",
                "app15",
                "--carrier-every",
                "120",
            ],
        }

    @staticmethod
    def wait_for_web(host: str, port: int, running: dict[str, subprocess.Popen], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and all(p.poll() is None for p in running.values()):
            try:
                socket.create_connection((host, port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.3)

    def banner(self, host: str, port: int) -> None:
        self.stdout.write(self.style.SUCCESS(f"\n  码号服务门户 is running at http://{host}:{port}/\n"))
        self.stdout.write(
            f"  Staff sign-in: http://{host}:{port}/accounts/login/   password for every demo user: {DEMO_PASSWORD}"
        )
        for email, _name, role, *_rest in STAFF:
            self.stdout.write(f"    {email:24} {role.label}")
        self.stdout.write("  TOTP codes for the demo users: .venv/bin/python manage.py demo_totp")
        self.stdout.write("  SMS sent by the portal:       .venv/bin/python manage.py sms_outbox")
        self.stdout.write("  Platform simulator (16 member apps): http://127.0.0.1:8900/app01 .. /app16")
        self.stdout.write(
            "  Carrier app (示例营业厅, app15) using the carrier API: http://127.0.0.1:8900/_control/carrier;"
            f" counter console: http://{host}:{port}/staff/counter/ (carrier@demo.portal)"
        )
        self.stdout.write(f"  Health: http://{host}:{port}/healthz    API docs: http://{host}:{port}/api/docs/")
        self.stdout.write("  Press Ctrl-C to stop everything.\n")

    @staticmethod
    def stop_processes(running: dict[str, subprocess.Popen]) -> None:
        for p in running.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        deadline = time.time() + 10
        for p in running.values():
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
