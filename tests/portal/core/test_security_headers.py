"""Every answer carries a Content-Security-Policy without inline script or style, and a Permissions-Policy;
no template has inline script, event-handler or style attributes that the policy would block."""

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[3] / "templates"


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/lookup/",
        "/complaints/",
        "/statistics/",
        "/accounts/login/",
        "/no-such-page/",
        "/api/v1/platform/number-checks",
    ],
)
def test_every_answer_has_a_strict_csp_and_a_permissions_policy(client, path):
    response = client.get(path)
    csp = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";") if part.strip())
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'" and csp["object-src"] == "'none'"
    assert csp["frame-ancestors"] == "'none'" and "unsafe" not in response["Content-Security-Policy"]
    assert "camera=()" in response["Permissions-Policy"] and "geolocation=()" in response["Permissions-Policy"]


def test_only_the_api_docs_allow_inline_style(client):
    docs = client.get("/api/docs/")
    assert "style-src 'self' 'unsafe-inline'" in docs["Content-Security-Policy"]
    assert "script-src 'self'" in docs["Content-Security-Policy"] and "<script>" not in docs.content.decode()
    script = client.get("/api/docs/?script=")  # Swagger UI's start-up script, from its own URL
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()


def test_attack_templates_hold_no_inline_script_handlers_or_styles():
    found = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        if (
            re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text)
            or re.search(r"\son[a-z]+\s*=", text)
            or re.search(r"\sstyle\s*=", text)
        ):
            found.append(str(template.relative_to(TEMPLATES)))
    assert not found
