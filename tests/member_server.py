"""A member platform on loopback for tests that look at what the portal sends: it keeps every request
(path, headers, body) and answers what `answer` returns. Subclasses decide the answers and how they
are signed; the server, the apps' integrations and the captured requests live here once."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from registry import services as registry_services
from tests.registry.factories import IntegrationFactory, MemberAppFactory


class MemberServer:
    def __init__(self):
        self.requests: list[dict] = []
        self.secrets: dict[str, str] = {}  # app name (the path's first part) -> the secret it holds
        member = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = {"path": self.path, "headers": dict(self.headers), "body": body}
                member.requests.append(request)
                status, payload, secret = member.answer(self.path.strip("/").split("/")[0], request)
                reply = json.dumps(payload).encode()
                self.send_response(status)
                headers = {"Content-Type": "application/json", **(member.sign(secret, reply) if secret else {})}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, name: str, request: dict) -> tuple[int, dict, str | None]:
        """(status, JSON payload, secret to sign it with or None) for a request to app `name`."""
        raise NotImplementedError

    def sign(self, secret: str, reply: bytes) -> dict[str, str]:
        raise NotImplementedError

    def register(self, name: str, **app_fields):
        """A member app whose integration points here, with a key issued the portal's way."""
        app = MemberAppFactory(name=name, **app_fields)
        integration = IntegrationFactory(app=app, base_url=f"{self.url}/{name}", timeout_ms=2000)
        key, secret = registry_services.integration_key_issue(integration=integration, by=None)
        self.secrets[name] = secret
        return app, key, secret

    def received(self, path_end: str) -> list[dict]:
        return [dict(r, payload=json.loads(r["body"])) for r in self.requests if r["path"].endswith(path_end)]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
