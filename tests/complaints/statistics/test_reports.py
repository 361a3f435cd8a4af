"""The case CSV carries no personal data."""

import pytest

from portal.core.crypto import encrypt
from tests.complaints.statistics.helpers import csv_rows, make_case, regulator
from tests.registry.factories import MemberAppFactory

pytestmark = pytest.mark.django_db


def test_the_case_csv_carries_no_personal_data(client):
    app = MemberAppFactory()
    make_case(
        app=app,
        phone_encrypted=encrypt("13800138000"),
        email_encrypted=encrypt("holder@example.cn"),
        description="前机主欠款的秘密描述",
        answer_text="平台回复原文",
        city="深圳",
    )
    client.force_login(regulator())
    response = client.get("/staff/statistics/cases.csv")
    assert response.streaming
    body = "\n".join(",".join(r) for r in csv_rows(response))
    assert app.organisation.legal_name in body
    for secret in ("13800138000", "138****8000", "holder@example.cn", "秘密描述", "平台回复原文"):
        assert secret not in body
