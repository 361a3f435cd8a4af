"""The production profile: refuses to start without its secrets, passes `check --deploy`."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[3]


def production_env(**overrides):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings.production",
        SECRET_KEY="k" * 20 + "production-secret-key-of-sufficient-length-1234567",
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="numbers.example.cn",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/portal",
        REDIS_URL="redis://127.0.0.1:6379/0",
        SMS_BACKEND="portal.sms.backends.HttpBackend",
        SMS_HTTP_URL="https://sms.example.cn/send",
    )
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def manage(*args, env):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_check_deploy_reports_no_issue():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env())
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "REDIS_URL", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without(missing):
    result = manage("check", env=production_env(**{missing: None}))
    assert result.returncode != 0
    assert missing in result.stderr


@pytest.mark.parametrize(
    ("overrides", "reported"),
    [
        ({"SMS_BACKEND": None}, "portal.E001"),
        ({"SMS_BACKEND": "portal.sms.backends.NoSuchBackend"}, "portal.E002"),
        ({"SMS_BACKEND": "portal.sms.backends.DatabaseBackend"}, "portal.W001"),
        ({"SMS_HTTP_URL": None}, "portal.E003"),
    ],
)
def test_check_deploy_reports_a_production_without_a_real_sms_provider(overrides, reported):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env(**overrides))
    assert result.returncode != 0
    assert reported in result.stderr + result.stdout


def test_load_demo_refuses_to_run_in_production():
    result = manage("load_demo", env=production_env())
    assert result.returncode != 0
    assert "load_demo only runs with DEBUG on" in result.stderr


@pytest.mark.django_db
def test_load_demo_refuses_without_debug_and_creates_nothing():
    from django.core.management.base import CommandError

    from registry.models import Organisation

    with pytest.raises(CommandError, match="no place in production"):
        call_command("load_demo")
    assert not Organisation.objects.exists()


@pytest.mark.django_db
def test_no_model_change_lacks_a_migration():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
