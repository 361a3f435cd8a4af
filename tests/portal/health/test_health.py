import time

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


@pytest.mark.worker
def test_healthz_is_ok_with_a_real_worker_running(client, celery_workers):
    celery_workers.start("health")
    celery_workers.wait_until_ready(1)
    # the worker's heartbeat row arrives right after start
    for _ in range(50):
        response = client.get("/healthz")
        if response.status_code == 200:
            break
        time.sleep(0.2)
    body = response.json()
    assert response.status_code == 200, body
    assert body["database"] == body["broker"] == body["worker"] == "ok"
    assert any(name.startswith("health@") for name in body["workers"])


def test_healthz_names_the_worker_when_none_is_running(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["worker"] == "down"
    assert "worker" in response.json()["status"]


@override_settings(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
def test_healthz_names_the_broker_when_it_is_unreachable(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"] == "down"
    assert "broker" in response.json()["status"]
