# Everything a fresh machine needs comes from here: only python3 and make are assumed.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
RUN := $(UV) run --frozen --no-sync
# While `make run` or `make infra` runs, it writes how to reach it here; the targets that talk to
# it read the file (the environment still wins), so they work from a second shell as they are.
export LOCAL_STATE_DIR ?= .local
STACK_ENV = $(LOCAL_STATE_DIR)/stack.env
RUN_NEXT_TO_STACK = $(RUN) $(if $(wildcard $(STACK_ENV)),--env-file $(STACK_ENV))
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

FROM ?= 0
PROJECTION ?=
REPLAY ?=
ARGS ?=
FUZZ_EXAMPLES ?= 500
SCOPES ?=
CUSTOMER ?=
SUBJECT ?=
TTL ?=
STATE ?=
BATCH ?=

.DEFAULT_GOAL := help
.PHONY: help install run infra write-service read-service test test-unit test-integration test-e2e \
        lint format fuzz token republish clean bench up down asyncapi projections dead-letters rebuild-projections \
        processes encrypt-history

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-20s %s\n", $$1, $$2}'

$(UV):
	@$(PYTHON) -m venv $(TOOLS)
	@$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	@$(UV) sync --frozen --python $(PYTHON) --quiet
	@touch $@

# The operator console's browser libraries (ES modules the read service serves, no bundler),
# from their lock file. Without npm the services still run; /console says what is missing.
CONSOLE := services/read/console
$(CONSOLE)/node_modules/.installed: $(CONSOLE)/package.json $(CONSOLE)/package-lock.json
	@if command -v npm > /dev/null 2>&1; then \
	  npm ci --prefix $(CONSOLE) --no-audit --no-fund --loglevel=error > /dev/null && touch $@; \
	else echo "npm not found: the operator console (/console) needs its libraries (npm ci in $(CONSOLE))" >&2; fi

install: $(VENV)/.synced $(CONSOLE)/node_modules/.installed ## install every dependency into .venv and the console's libraries (from the lock files)

run: install ## the whole system on the embedded stack; Ctrl-C stops it
	@$(RUN) python -m deploy.local.run all

infra: install ## only the embedded PostgreSQL, Kafka-protocol broker and MongoDB-protocol server
	@$(RUN) python -m deploy.local.run infra

write-service: install ## only the write service (and its relay), against running infrastructure
	@$(RUN_NEXT_TO_STACK) python -m services.write

read-service: install ## only the read service, against running infrastructure
	@$(RUN_NEXT_TO_STACK) python -m services.read

token: install ## print an access token of the running stack's issuer (SCOPES=, CUSTOMER=, SUBJECT=, TTL=)
	@$(RUN_NEXT_TO_STACK) python -m deploy.local.token --scopes "$(SCOPES)" --customer "$(CUSTOMER)" --subject "$(SUBJECT)" --ttl "$(TTL)"

republish: install ## re-send stored events to Kafka from FROM=<position>
	@$(RUN_NEXT_TO_STACK) python -m services.write.entrypoints.republish --from-position $(FROM)

# The one rewrite of stored events: clear personal values from before sealing, sealed in place.
encrypt-history: install ## seal the personal values of events stored clear (resumable; BATCH=500 per transaction)
	@$(RUN_NEXT_TO_STACK) python -m services.write.entrypoints.encrypt_history $(if $(BATCH),--batch-size $(BATCH))

projections: install ## the read side's projections: state, position, lag, version, documents
	@$(RUN_NEXT_TO_STACK) python -m services.read.cli projections

rebuild-projections: install ## rebuild every projection (or PROJECTION=name) from the full history, no downtime
	@$(RUN_NEXT_TO_STACK) python -m services.read.cli rebuild $(if $(PROJECTION),--projection $(PROJECTION))

dead-letters: install ## list dead letters; REPLAY=1 applies them again (PROJECTION=name to filter)
	@$(RUN_NEXT_TO_STACK) python -m services.read.cli dead-letters $(if $(REPLAY),--replay) $(if $(PROJECTION),--projection $(PROJECTION))

# The token is one of the running stack's issuer with ordering:operate, as `make token` gets it.
processes: install ## the fulfilment process's instances (STATE=active|suspended|completed|stuck)
	@token=$$($(RUN_NEXT_TO_STACK) python -m deploy.local.token --scopes ordering:operate --subject operator) && \
	ACCESS_TOKEN="$$token" $(RUN_NEXT_TO_STACK) python -m services.write.entrypoints.processes_cli $(if $(STATE),--state $(STATE))

test: install ## unit, integration and e2e tests
	@$(RUN) pytest -q

test-unit: install
	@$(RUN) pytest -q tests/unit

test-integration: install
	@$(RUN) pytest -q tests/integration

test-e2e: install
	@$(RUN) pytest -q tests/e2e

fuzz: install ## schemathesis against both APIs, longer than in make test (FUZZ_EXAMPLES per operation)
	@FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(RUN) pytest -q -o timeout=3600 tests/e2e/test_api_fuzz.py

asyncapi: install ## regenerate the AsyncAPI document of the topics
	@$(RUN) python -m shared.contracts.asyncapi > shared/contracts/asyncapi.json

lint: install ## ruff, mypy and the static checks of deploy/
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .
	@$(RUN) mypy shared services tests deploy bench
	@$(RUN) python -m deploy.check

format: install ## ruff format and ruff's fixes, in place
	@$(RUN) ruff format .
	@$(RUN) ruff check --fix .

bench: install ## the benchmark (not a test): figures and targets, bench/results.json; ARGS=--quick
	@$(RUN) python -m bench $(ARGS)

up: .env ## (needs Docker) the real stack with Docker (PostgreSQL, Kafka, MongoDB, Keycloak, services, Prometheus)
	docker compose up -d --build

# The secrets make up needs (see .env.example), random, made once and never committed.
.env:
	@umask 077 && $(PYTHON) -c "import base64, secrets; names = ('KEYCLOAK_ADMIN_PASSWORD', 'READ_SERVICE_CLIENT_SECRET', 'BACK_OFFICE_CLIENT_SECRET'); keys = ('PII_KEK', 'PII_INDEX_KEY'); print(*(f'{n}={secrets.token_urlsafe(32)}' for n in names), *(f'{k}={base64.b64encode(secrets.token_bytes(32)).decode()}' for k in keys), sep='\n')" > $@
	@echo "wrote $@ with generated secrets (the Keycloak admin password is in it)"

down: .env ## (needs Docker) stop what make up started
	docker compose down

clean: ## stop nothing, wipe the local state (.local/)
	rm -rf $(LOCAL_STATE_DIR)
