"""`make run`: the web server, a Celery worker and beat in one terminal; Ctrl-C stops all of them."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from registry.demo import DEMO_PASSWORD, STAFF


class Command(BaseCommand):
    help = "Run the site with its worker and beat for development."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))

    def handle(self, *args, port, host, **options):
        python = sys.executable
        var = str(settings.VAR_DIR)
        processes = {
            "web": [python, "manage.py", "runserver", f"{host}:{port}"],
            "worker": [python, "-m", "celery", "-A", "portal", "worker", "-l", "INFO", "-n", "worker@%h",
                       "--concurrency", "4"],
            "beat": [python, "-m", "celery", "-A", "portal", "beat", "-l", "INFO", "-s", f"{var}/celerybeat-schedule"],
            # the demo's 16 member apps (registry.demo points their integrations here)
            # unbinding: 示例支付 (app03) refuses, 示例邮箱 (app02) accepts and answers itself after 20 s,
            # 示例网盘 (app04) accepts and leaves the answer to its staff (platform@demo.portal's console);
            # notices: every app reports back the bindings it removed
            "simulator": [python, "manage.py", "run_simulator", "--port", "8900", "--apps", "16", "--latency-ms", "150",
                          "--unbind-refuse", "app03", "--unbind-later", "app02=20", "--unbind-later", "app04",
                          "--report-back", "--portal-url", f"http://{host}:{port}"],
        }
        # Ctrl-C, a hang-up or a kill all end in the same clean stop, even where SIGINT was ignored.
        def stop(signum, frame):
            raise KeyboardInterrupt

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, stop)
        running = {name: subprocess.Popen(cmd, start_new_session=True) for name, cmd in processes.items()}
        time.sleep(3)
        self.stdout.write(self.style.SUCCESS(f"\n  码号服务门户 is running at http://{host}:{port}/\n"))
        self.stdout.write(f"  Staff sign-in: http://{host}:{port}/accounts/login/   password for every demo user: {DEMO_PASSWORD}")
        for email, _name, role, *_rest in STAFF:
            self.stdout.write(f"    {email:24} {role.label}")
        self.stdout.write("  TOTP codes for the demo users: .venv/bin/python manage.py demo_totp")
        self.stdout.write("  SMS sent by the portal:       .venv/bin/python manage.py sms_outbox")
        self.stdout.write("  Platform simulator (16 member apps): http://127.0.0.1:8900/app01 .. /app16")
        self.stdout.write(f"  Health: http://{host}:{port}/healthz    API docs: http://{host}:{port}/api/docs/")
        self.stdout.write("  Press Ctrl-C to stop everything.\n")
        try:
            while all(p.poll() is None for p in running.values()):
                time.sleep(0.5)
            dead = [name for name, p in running.items() if p.poll() is not None]
            self.stderr.write(f"{', '.join(dead)} stopped; stopping the rest.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            for p in running.values():
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGTERM)
            deadline = time.time() + 10
            for p in running.values():
                try:
                    p.wait(timeout=max(0.1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
