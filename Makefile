# mwaa-obs developer entry points. `make demo` and `make test` work on a fresh machine: they build .venv first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The IAM evaluator of the strict offline world (mwaa_obs_tools.iam): @cloud-copilot/iam-simulate, a Node package used
# at test time only and never shipped (AGPL-3.0: docs/LOCAL_STACK.md), pinned by its package-lock.json.
IAM_DIR := src/mwaa_obs_tools/iam
IAM_MODULES := $(VENV)/iam-simulate
IAM_STAMP := $(IAM_MODULES)/.installed
# checkov lives in its own venv: its pins conflict with the dev tools'. The security test runs it from there.
CHECKOV_VENV := $(VENV)/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
export CHECKOV := $(abspath $(CHECKOV_VENV))/bin/checkov
# Real clients of the MWAA Serverless API, each in its own venv, for tests/integration/test_real_clients.py: the AWS
# CLI v1 (PyPI awscli), and Apache Airflow 3 with its Amazon provider on Python 3.12 (what MWAA Serverless runs).
AWSCLI_VENV := $(VENV)/awscli
AWSCLI_STAMP := $(AWSCLI_VENV)/.installed
export MWAA_OBS_AWS_CLI := $(abspath $(AWSCLI_VENV))/bin/aws
AIRFLOW_VENV := $(VENV)/airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed
export MWAA_OBS_AIRFLOW_PYTHON := $(abspath $(AIRFLOW_VENV))/bin/python
# .venv/bin first: it holds the python3.13 that `sam build` needs for the python3.13 runtime.
export PATH := $(abspath $(VENV))/bin:$(PATH)
# Offline tools (sam validate, cfn-lint, moto) need a region and some credentials, never real ones.
export AWS_DEFAULT_REGION ?= us-east-1
# No telemetry calls from sam: this pipeline runs offline.
export SAM_CLI_TELEMETRY := 0

.PHONY: venv checkov awscli airflow chromium checkov-lock awscli-lock airflow-lock demo screenshots test lint validate unit integration tests hooks bench build deploy dashboards clean

$(STAMP): pyproject.toml requirements-dev.lock
	@interpreter=$$(scripts/find-python.sh 3.13) && "$$interpreter" -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements-dev.lock -e '.[dev]'
	@touch $@

$(IAM_STAMP): $(IAM_DIR)/package.json $(IAM_DIR)/package-lock.json | $(STAMP)
	@scripts/ensure-node.sh
	rm -rf $(IAM_MODULES) && mkdir -p $(IAM_MODULES)
	cp $(IAM_DIR)/package.json $(IAM_DIR)/package-lock.json $(IAM_MODULES)/
	cd $(IAM_MODULES) && npm ci --silent --no-audit --no-fund
	@touch $@

venv: $(STAMP) $(IAM_STAMP)

$(CHECKOV_STAMP): requirements-checkov.lock | $(STAMP)
	@interpreter=$$(scripts/find-python.sh 3.13) && "$$interpreter" -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -r requirements-checkov.lock
	@touch $@

checkov: $(CHECKOV_STAMP)

$(AWSCLI_STAMP): requirements-awscli.lock | $(STAMP)
	@interpreter=$$(scripts/find-python.sh 3.13) && "$$interpreter" -m venv --without-pip $(AWSCLI_VENV)
	$(VENV)/bin/uv pip install --quiet --python $(AWSCLI_VENV)/bin/python --no-deps -r requirements-awscli.lock
	@touch $@

awscli: $(AWSCLI_STAMP)

$(AIRFLOW_STAMP): requirements-airflow.lock | $(STAMP)
	@interpreter=$$(scripts/find-python.sh 3.12) && "$$interpreter" -m venv --without-pip $(AIRFLOW_VENV)
	$(VENV)/bin/uv pip install --quiet --python $(AIRFLOW_VENV)/bin/python --no-deps -r requirements-airflow.lock
	@touch $@

airflow: $(AIRFLOW_STAMP)

# Debian's chromium for the browser test (and the demo's screenshots, if it can be had): scripts/ensure-chromium.sh.
chromium:
	@scripts/ensure-chromium.sh

# Re-pin checkov (and everything it pulls in) at its newest release.
checkov-lock:
	rm -rf $(CHECKOV_VENV) && "$$(scripts/find-python.sh 3.13)" -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check checkov
	{ head -n 1 requirements-checkov.lock; $(CHECKOV_VENV)/bin/pip freeze; } > requirements-checkov.lock.new
	mv requirements-checkov.lock.new requirements-checkov.lock

# Re-pin the AWS CLI v1, and Airflow with its Amazon provider, at their newest releases.
awscli-lock:
	rm -rf $(AWSCLI_VENV) && "$$(scripts/find-python.sh 3.13)" -m venv $(AWSCLI_VENV)
	$(AWSCLI_VENV)/bin/pip install --quiet --disable-pip-version-check awscli
	{ head -n 1 requirements-awscli.lock; $(AWSCLI_VENV)/bin/pip freeze; } > requirements-awscli.lock.new
	mv requirements-awscli.lock.new requirements-awscli.lock

airflow-lock:
	rm -rf $(AIRFLOW_VENV) && "$$(scripts/find-python.sh 3.12)" -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/pip install --quiet --disable-pip-version-check apache-airflow 'apache-airflow-providers-amazon>=9.29'
	{ head -n 1 requirements-airflow.lock; $(AIRFLOW_VENV)/bin/pip freeze; } > requirements-airflow.lock.new
	mv requirements-airflow.lock.new requirements-airflow.lock

demo: venv
	@scripts/ensure-chromium.sh --optional
	$(PY) -m mwaa_obs_tools.demo $(if $(ACCOUNTS),--accounts $(ACCOUNTS))

# The README's pictures (docs/images/): the demo's runs grid and its first Slack alert, drawn again.
screenshots: venv chromium
	$(PY) -m mwaa_obs_tools.demo --screenshots docs/images

# What CI runs (.ci/run): everything, in one pytest session.
test: lint validate tests

lint: venv
	ruff check .
	ruff format --check .
	mypy layers/common/mwaa_obs functions src tests bench

validate: venv
	AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline sam validate --lint --template template.yaml
	$(VENV)/bin/cfn-lint forwarder/template.yaml

# The fast loop (about 30 s): pure logic, template and docs rules, the security scan, the simulator.
unit: venv checkov
	pytest tests/unit tests/simulator

# Against moto server and the local stack (a few minutes).
integration: venv chromium awscli airflow
	pytest tests/integration

tests: venv checkov chromium awscli airflow
	pytest

# Run ruff, mypy and the template checks before each commit (pre-commit is fetched into the venv on demand).
hooks: venv
	$(PY) -m pip install --quiet --disable-pip-version-check pre-commit
	$(VENV)/bin/pre-commit install

# Every section, each in a process of its own (about 50 minutes); ONLY=cpu,metrics for some. checkov, chromium and
# the real-client venvs (awscli, airflow): the walltimes section runs the whole test suite.
bench: venv checkov chromium awscli airflow
	$(PY) bench/run.py $(if $(ONLY),--only $(ONLY))

build: venv
	sam build --template template.yaml

# Copy the bodies of dashboards/ into template.yaml (a test fails when they differ).
dashboards: venv
	$(PY) -m mwaa_obs_tools.dashboards sync

deploy: build
	sam deploy $(if $(ENV),--config-env $(ENV),--guided)

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
