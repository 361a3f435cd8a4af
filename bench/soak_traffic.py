"""The traffic of bench/soak.py, as Locust users (run headless by soak.py, which passes SOAK_CONFIG).

Citizens ask for a picture and a code and look up their number, through the API (`ApiCitizen`) and the
pages (`PageCitizen`), and follow the lookup until it is completed; a carrier reports number events, a
member checks numbers (CAMARA with an OAuth token, and the signed bulk check); a member's staff signs in
with the TOTP and reads its pages; a visitor reads the public pages. `Rush` starts lookups at a fixed
rate without waiting for them (the overload phase). What each request that should have stored a row
was answered, and the answers by status, go to SOAK_CONFIG's `out` file when Locust stops.
"""

import json
import os
import random
import re
import threading
import time
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone

import django
import psycopg
import pyotp
from locust import HttpUser, between, constant_pacing, events, task

django.setup()  # registry.protocol reads Django's settings (soak.py's environment)
from registry import protocol  # noqa: E402

CONFIG = json.loads(os.environ["SOAK_CONFIG"])
STATUSES: dict[str, Counter] = defaultdict(Counter)  # kind -> status -> count
TIMES: dict[str, list[float]] = defaultdict(list)  # kind -> response times (ms)
ACCEPTED = {"codes": 0, "lookups": [], "events": [], "audits": 0}
_db_lock = threading.Lock()  # one connection for every user (greenlets): the reads are tiny
_db = None


@events.request.add_listener
def _count_status(name, response_time, response=None, exception=None, **_kwargs):
    TIMES[name].append(response_time)
    STATUSES[name][
        str(response.status_code) if response is not None and response.status_code else type(exception).__name__
    ] += 1


@events.quitting.add_listener
def _write_out(environment, **_kwargs):
    with open(CONFIG["out"], "w") as f:
        json.dump(
            {
                "statuses": STATUSES,
                "accepted": ACCEPTED,
                "times": {name: percentiles(t) for name, t in TIMES.items()}
                | {"(all)": percentiles([t for times in TIMES.values() for t in times])},
            },
            f,
        )


def percentiles(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {
        "count": len(times),
        **{f"p{p}": times[min(len(times) - 1, int(len(times) * p / 100))] for p in (50, 95, 99)},
    }


def sms_code(phone: str) -> str | None:
    """The code the portal texted to `phone`: the development outbox keeps the text (the person's phone)."""
    global _db
    with _db_lock:
        if _db is None:
            _db = psycopg.connect(CONFIG["database_url"], autocommit=True)
        row = _db.execute(
            "SELECT text FROM portal_smsmessage WHERE phone_number = %s AND created_at > now() - interval '5 minutes' "
            "ORDER BY id DESC LIMIT 1",
            [phone],
        ).fetchone()
    match = row and re.search(r"验证码 (\d{6})", row[0])
    return match.group(1) if match else None


def citizen_number() -> str:
    """A fresh number in segments no member carrier holds (no identity check call), one lookup each."""
    return f"{random.choice(('176', '186', '199'))}{random.randrange(10**8):08d}"


def carrier_number() -> str:
    return f"{random.choice(('138', '139', '150'))}{random.randrange(10**8):08d}"


class Citizen(HttpUser):
    abstract = True
    follow = True  # wait for the lookup to complete (closed loop); the rush does not

    def ask_code_by_api(self, phone: str) -> str | None:
        key = self.client.post("/api/v1/captcha", json={}, name="captcha").json()["captcha_key"]
        with self.client.post(
            "/api/v1/verification-codes",
            name="code",
            json={"phone_number": phone, "captcha_key": key, "captcha_answer": "passed"},
            catch_response=True,
        ) as r:
            if r.status_code != 202:
                r.failure(f"HTTP {r.status_code}")
                return None
            ACCEPTED["codes"] += 1
        return sms_code(phone)

    def start_lookup_by_api(self, phone: str, code: str):
        with self.client.post(
            "/api/v1/lookups",
            json={"phone_number": phone, "id_last6": "40213X", "code": code},
            name="lookup",
            catch_response=True,
        ) as r:
            if r.status_code != 201:
                r.failure(f"HTTP {r.status_code}")
                return None
            body = r.json()
            ACCEPTED["lookups"].append(body["id"])
        return body

    def follow_by_api(self, body):
        headers = {"Authorization": f"Bearer {body['access_token']}"}
        deadline = time.time() + 120
        while time.time() < deadline:
            time.sleep(1)
            r = self.client.get(f"/api/v1/lookups/{body['id']}", headers=headers, name="lookup status")
            if r.status_code == 200 and r.json()["state"] == "completed":
                return


class ApiCitizen(Citizen):
    wait_time = between(0, 1)  # closed loop: the next lookup once this one completed

    @task
    def look_up(self):
        phone = citizen_number()
        code = self.ask_code_by_api(phone)
        body = code and self.start_lookup_by_api(phone, code)
        if body and self.follow:
            self.follow_by_api(body)


class Rush(ApiCitizen):
    """Lookups started at a fixed rate (constant pacing), not waiting for them: more than the workers hold."""

    follow = False
    wait_time = constant_pacing(CONFIG.get("rush_pacing", 1.0))


class PageCitizen(Citizen):
    wait_time = between(1, 3)

    @task
    def look_up(self):
        phone = citizen_number()
        page = self.client.get("/lookup/", name="page: lookup form").text
        form = {
            "csrfmiddlewaretoken": re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1),
            "captcha_0": re.search(r'name="captcha_0" value="([^"]+)"', page).group(1),
            "captcha_1": "passed",
            "phone_number": phone,
            "id_last6": "40213X",
        }
        with self.client.post("/lookup/", data=form, name="page: code", catch_response=True) as r:
            if r.status_code != 200 or 'name="code"' not in r.text:
                r.failure(f"HTTP {r.status_code}")
                return
            ACCEPTED["codes"] += 1
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', r.text).group(1)
        code = sms_code(phone)
        with self.client.post(
            "/lookup/verify/",
            data={"csrfmiddlewaretoken": token, "phone_number": phone, "id_last6": "40213X", "code": code},
            name="page: lookup",
            allow_redirects=False,
            catch_response=True,
        ) as r:
            if r.status_code != 302:
                r.failure(f"HTTP {r.status_code}")
                return
            lookup_id = r.headers["Location"].rstrip("/").rsplit("/", 1)[1]
            ACCEPTED["lookups"].append(lookup_id)
        self.client.get(f"/lookup/{lookup_id}/", name="page: results")
        deadline = time.time() + 120
        while time.time() < deadline:
            time.sleep(1)
            r = self.client.get(f"/lookup/{lookup_id}/status", name="page: lookup status")
            if r.status_code == 200 and r.json()["state"] == "completed":
                return


class Carrier(HttpUser):
    """Reports a batch of events every few seconds: numbers cancelled, most re-assigned months later."""

    wait_time = constant_pacing(3)
    batch = 50

    @task
    def report(self):
        tz = timezone(timedelta(hours=8))
        events_, stamp = [], f"{os.getpid()}-{time.time_ns()}"
        for i in range(self.batch // 2):
            phone = carrier_number()
            cancelled = datetime(2025, 6, 1, tzinfo=tz) + timedelta(minutes=random.randrange(200_000))
            events_.append(
                {
                    "event_id": f"s{stamp}-{i}c",
                    "phone_number": phone,
                    "type": "cancelled",
                    "occurred_at": cancelled.isoformat(),
                }
            )
            events_.append(
                {
                    "event_id": f"s{stamp}-{i}r",
                    "phone_number": phone,
                    "type": "reassigned",
                    "occurred_at": (cancelled + timedelta(days=random.randrange(90, 200))).isoformat(),
                }
            )
        if signed_post(
            self.client,
            "/api/v1/carrier/number-events",
            {"events": events_},
            name="carrier events",
            secret=CONFIG["carrier_secret"],
            key_id=CONFIG["carrier_key_id"],
        ):
            ACCEPTED["events"] += [e["event_id"] for e in events_]


def signed_post(client, path: str, payload: dict, *, name: str, secret: str, key_id: str) -> bool:
    """POST `payload` signed like protocol v2 with this key (a carrier's, a member's); True if answered 200."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", **protocol.sign(body, keys=secret, key_id=key_id)}
    with client.post(path, data=body, headers=headers, name=name, catch_response=True) as r:
        if r.status_code != 200:
            r.failure(f"HTTP {r.status_code}")
        return r.status_code == 200


class Checker(HttpUser):
    """A member's recycling checks: CAMARA one at a time with a bearer token, now and then a bulk call."""

    wait_time = constant_pacing(0.5)
    bulk_size = 100

    def on_start(self):
        self.token = self.client.post(
            "/oauth/token",
            name="oauth token",
            data={
                "grant_type": "client_credentials",
                "client_id": CONFIG["member_key_id"],
                "client_secret": CONFIG["member_secret"],
                "scope": "number-recycling:check",
            },
        ).json()["access_token"]

    @staticmethod
    def day() -> str:
        return (date(2025, 1, 1) + timedelta(days=random.randrange(600))).isoformat()

    @task(10)
    def camara(self):
        with self.client.post(
            "/number-recycling/v0.2/check",
            name="check: CAMARA",
            headers={"Authorization": f"Bearer {self.token}"},
            json={"phoneNumber": "+86" + carrier_number(), "specifiedDate": self.day()},
            catch_response=True,
        ) as r:
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}")
                return
            ACCEPTED["audits"] += 1

    @task(1)
    def bulk(self):
        checks = [{"phone_number": "+86" + carrier_number(), "date": self.day()} for _ in range(self.bulk_size)]
        if signed_post(
            self.client,
            "/api/v1/platform/number-checks",
            {"checks": checks},
            name="check: bulk 100",
            secret=CONFIG["member_secret"],
            key_id=CONFIG["member_key_id"],
        ):
            ACCEPTED["audits"] += self.bulk_size


class Staff(HttpUser):
    """A member's staff signs in (password, then the TOTP) and reads the pages of its apps."""

    wait_time = constant_pacing(4)
    _next = 0

    def on_start(self):
        account = CONFIG["staff"][Staff._next % len(CONFIG["staff"])]
        Staff._next += 1
        page = self.client.get("/accounts/login/", name="staff: sign-in form").text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        page = self.client.post(
            "/accounts/login/",
            name="staff: sign in",
            data={"csrfmiddlewaretoken": token, "login": account["email"], "password": account["password"]},
        ).text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        self.client.post(
            "/accounts/2fa/authenticate/",
            name="staff: TOTP",
            data={"csrfmiddlewaretoken": token, "code": pyotp.TOTP(account["totp"]).now()},
        )
        self.app_ids = CONFIG["app_ids"]

    @task(3)
    def home(self):
        with self.client.get("/staff/", name="staff: home", catch_response=True) as r:
            if "/accounts/" in r.url:  # sent to the sign-in: the session did not hold
                r.failure("signed out")

    @task(2)
    def queries(self):
        self.client.get(f"/staff/apps/{random.choice(self.app_ids)}/queries/", name="staff: app queries")

    @task(1)
    def app(self):
        self.client.get(f"/staff/apps/{random.choice(self.app_ids)}/", name="staff: app")


class Visitor(HttpUser):
    wait_time = constant_pacing(3)

    @task
    def pages(self):
        for path, name in (
            ("/", "public: home"),
            ("/directory/", "public: directory"),
            ("/statistics/", "public: statistics"),
        ):
            self.client.get(path, name=name)


for _name, _count in json.loads(os.environ.get("SOAK_USERS", "{}")).items():  # how many of each, from soak.py
    globals()[_name].fixed_count = _count
