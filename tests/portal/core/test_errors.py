"""Errors a person can read (issue 17 §1): the site's own 400/403/404/500/503 pages in the person's language
with a way back, a reference for 500/503 that is in the log, JSON on the API's paths, and 503 with
Retry-After when PostgreSQL or Redis is really stopped (a gunicorn subprocess pointed at a dead port)."""

import logging
import re

import httpx
import pytest
from django.test import Client, override_settings

from portal.sms.models import SmsMessage
from portal.verification.models import VerificationCode
from tests.portal.fault_helpers import running_portal

pytestmark = pytest.mark.django_db

ERROR_URLS = "tests.portal.core.error_urls"
REFERENCE = re.compile(r"\b[2-9A-HJ-NP-Z]{8}\b")


@pytest.fixture
def quiet_client():
    """A client that gets the 500 page, as a person would, instead of the exception re-raised."""
    return Client(raise_request_exception=False)


def reference_in(text: str) -> str:
    match = re.search(r"<code>([2-9A-HJ-NP-Z]{8})</code>", text)
    assert match, text[-1500:]
    return match.group(1)


# --- 404, 403, 400: the site's look, the person's language, a way back ----------------------------------


def test_unknown_page_answers_the_sites_own_404_in_chinese_with_a_way_home(client):
    response = client.get("/no-such-page/")
    page = response.content.decode()
    assert response.status_code == 404
    assert 'lang="zh-hans"' in page and "找不到该页面" in page and "site-header" in page
    assert 'href="/"' in page and "返回首页" in page
    assert 'name="robots" content="noindex"' in page


def test_404_page_is_in_english_after_the_language_switch(client):
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = client.get("/no-such-page/").content.decode()
    assert "Page not found" in page and "Go to the home page" in page and 'lang="en"' in page


@override_settings(ROOT_URLCONF=ERROR_URLS)
def test_forbidden_page_answers_the_sites_own_403_with_the_sign_in(client):
    response = client.get("/test-errors/denied/")
    page = response.content.decode()
    assert response.status_code == 403 and "您无权打开此页面" in page and "/accounts/login/" in page


def test_attack_forged_form_from_another_site_gets_the_403_page_not_djangos():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/lookup/", {"phone_number": "13812345678", "id_last6": "40213X"})
    page = response.content.decode()
    assert response.status_code == 403 and "表单已过期" in page and "site-header" in page
    assert "CSRF verification failed" not in page
    assert not VerificationCode.objects.exists()


def test_attack_forged_host_header_gets_the_400_page(client):
    response = client.get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400 and "无法处理该请求" in response.content.decode()


# --- 500: a reference on the page and in the log ---------------------------------------------------------


@override_settings(ROOT_URLCONF=ERROR_URLS)
def test_unexpected_error_gives_the_500_page_with_a_reference_that_is_in_the_log(quiet_client, caplog):
    with caplog.at_level(logging.ERROR, logger="portal.errors"):
        response = quiet_client.get("/test-errors/boom/")
    page = response.content.decode()
    assert response.status_code == 500 and "我们这边出了问题" in page and "a bug nobody caught" not in page
    reference = reference_in(page)
    logged = [r for r in caplog.records if reference in r.getMessage()]
    assert logged and logged[0].exc_info and "a bug nobody caught" in str(logged[0].exc_info[1])
    assert 'href="/test-errors/boom/"' in page  # try again


@override_settings(ROOT_URLCONF=ERROR_URLS)
def test_unexpected_api_error_answers_json_500_with_a_reference_never_html(quiet_client, caplog):
    with caplog.at_level(logging.ERROR, logger="portal.errors"):
        response = quiet_client.get("/api/v1/test-errors/boom")
    assert response.status_code == 500 and response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "server_error" and REFERENCE.fullmatch(body["reference"])
    assert any(body["reference"] in r.getMessage() for r in caplog.records)


@override_settings(ROOT_URLCONF=ERROR_URLS)
def test_sms_provider_failing_during_a_request_answers_503_saying_it_is_temporary(quiet_client):
    response = quiet_client.get("/test-errors/sms/")
    page = response.content.decode()
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert "短信服务暂时不可用" in page and "这是暂时的" in page and reference_in(page)


# --- The API answers JSON in its own shapes ----------------------------------------------------------------


def test_api_unknown_path_answers_the_json_envelope_not_the_html_page(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found" and "detail" in response.json()


def test_api_validation_error_is_in_the_envelope_with_the_fields(client):
    response = client.post("/api/v1/lookups", {}, content_type="application/json")
    body = response.json()
    assert response.status_code == 400 and body["code"] == "invalid"
    assert "phone_number" in body["errors"] and body["detail"].startswith("phone_number:")


def test_attack_unsigned_member_call_gets_the_envelope_with_its_code(client):
    response = client.get("/api/v1/platform/unbind-requests")
    body = response.json()
    assert response.status_code in (401, 403) and body["code"] in ("not_authenticated", "authentication_failed")
    assert body["detail"] and body["retry_at"] is None


def test_camara_errors_keep_camaras_shape(client):
    response = client.get("/number-recycling/v0.2/check", HTTP_X_CORRELATOR="abc-1")
    assert response.status_code == 405
    assert response.json() == {"status": 405, "code": "METHOD_NOT_ALLOWED", "message": response.json()["message"]}
    assert client.get("/number-recycling/v0.2/nothing").json()["code"] == "NOT_FOUND"


def test_oauth_errors_keep_the_oauth_shape(client):
    response = client.get("/oauth/token")
    assert response.status_code == 405 and set(response.json()) == {"error", "error_description"}


# --- Favicon and meta descriptions ----------------------------------------------------------------------------


def test_favicon_ico_is_found_instead_of_404(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == "/static/favicon.svg"
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon["Content-Type"].startswith("image/svg+xml")
    assert '<link rel="icon" href="/static/favicon.svg"' in client.get("/").content.decode()


PUBLIC_PAGES = [
    "/",
    "/lookup/",
    "/second-hand/",
    "/unbind/",
    "/before-giving-up/",
    "/directory/",
    "/complaints/",
    "/complaints/new/",
    "/complaints/follow/",
    "/statistics/",
    "/accounts/login/",
]


def test_each_public_page_has_its_own_meta_description(client):
    descriptions = {}
    for path in PUBLIC_PAGES:
        page = client.get(path).content.decode()
        match = re.search(r'<meta name="description" content="([^"]+)">', page)
        assert match and len(match.group(1)) > 20, path
        descriptions[path] = match.group(1)
    # every page but the two complaint steps (one template) says what it is about
    assert len(set(descriptions.values())) == len(PUBLIC_PAGES) - 1


# --- Dependencies really stopped ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_postgresql_down_lookup_directory_statistics_answer_503_with_retry_after_and_a_reference_in_the_log():
    with running_portal(database_down=True) as (url, server_log):
        for path in ("/lookup/", "/directory/", "/statistics/"):
            response = httpx.get(url + path, timeout=30)
            page = response.text
            assert response.status_code == 503, (path, page[-500:])
            assert response.headers["Retry-After"] == "30"
            assert "服务暂时不可用" in page and "这是暂时的" in page and "site-header" in page
            assert "Server Error (500)" not in page
            reference = reference_in(page)
            assert f"reference {reference}: database unavailable" in server_log()
        # a signed-in visitor's session cannot be read either: still the 503 page, not a bare 500
        response = httpx.get(url + "/staff/", cookies={"sessionid": "x" * 32}, timeout=30)
        assert response.status_code == 503 and "服务暂时不可用" in response.text
        health = httpx.get(url + "/healthz", timeout=30)
        assert (
            health.status_code == 503 and health.json()["database"] == "down" and "database" in health.json()["status"]
        )


@pytest.mark.django_db(transaction=True)
def test_postgresql_down_the_api_answers_json_503_in_each_shape():
    with running_portal(database_down=True) as (url, server_log):
        response = httpx.post(url + "/api/v1/captcha", json={}, timeout=30)  # a client's first call stores a picture
        assert response.status_code == 503 and response.headers["Retry-After"] == "30"
        assert response.headers["Content-Type"] == "application/json"
        body = response.json()
        assert body["code"] == "temporarily_unavailable" and body["retry_at"] and REFERENCE.fullmatch(body["reference"])
        assert body["reference"] in server_log()
        camara = httpx.post(
            url + "/number-recycling/v0.2/check",
            headers={"Authorization": "Bearer x", "x-correlator": "c-1"},
            json={"phoneNumber": "+8613812345678", "specifiedDate": "2026-01-01"},
            timeout=30,
        )
        assert camara.status_code == 503 and camara.json()["code"] == "UNAVAILABLE" and camara.json()["status"] == 503
        assert camara.headers["x-correlator"] == "c-1"
        oauth = httpx.post(
            url + "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": "a", "client_secret": "b"},
            timeout=30,
        )
        assert oauth.status_code == 503 and oauth.json()["error"] == "temporarily_unavailable"


def _csrf_and_captcha(client: httpx.Client, url: str) -> dict:
    page = client.get(url).text
    return {
        "csrfmiddlewaretoken": re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1),
        "captcha_0": re.search(r'name="captcha_0" value="([^"]+)"', page).group(1),
        "captcha_1": "passed",
    }


@pytest.mark.django_db(transaction=True)
def test_redis_down_the_code_request_answers_503_keeps_what_was_typed_and_sends_nothing_uncounted():
    """Redis is the broker and the SMS budget's counter: with it down no code is stored or sent (an
    uncounted SMS would open the way to bombing), and the person is told it is temporary."""
    with running_portal(redis_down=True) as (url, server_log), httpx.Client(base_url=url, timeout=30) as client:
        form = _csrf_and_captcha(client, "/lookup/")
        response = client.post(
            "/lookup/",
            data=form | {"phone_number": "138 0013 8000", "id_last6": "40213x"},
            headers={"Referer": url + "/lookup/"},
        )
        page = response.text
        assert response.status_code == 503 and response.headers["Retry-After"] == "30"
        assert "暂时不可用" in page and "这是暂时的" in page
        assert 'value="138 0013 8000"' in page and 'value="40213x"' in page  # as typed
        reference = re.search(r"参考编号：([2-9A-HJ-NP-Z]{8})", page).group(1)
        assert f"reference {reference}: cache unavailable" in server_log()
        assert not VerificationCode.objects.exists() and not SmsMessage.objects.exists()

        key = client.post("/api/v1/captcha", json={}).json()["captcha_key"]  # PostgreSQL is up
        api = client.post(
            "/api/v1/verification-codes",
            json={"phone_number": "13900139000", "captcha_key": key, "captcha_answer": "passed"},
        )
        assert api.status_code == 503 and api.json()["code"] == "temporarily_unavailable"
        assert api.headers["Retry-After"] == "30" and api.json()["reference"] in server_log()
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["broker"] == "down" and "broker" in health.json()["status"]
