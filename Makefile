# Trainyard: `make up` runs the platform locally; `make test` installs what the tests need and runs them.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
PYTEST_ARGS ?=

.PHONY: up test install test-deps lint bench clean

install:
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
	uv sync --frozen

# Local mode: development secrets are accepted and each service migrates its SQLite file at start.
up: install
	TRAINYARD_ENVIRONMENT=local uv run python -m common.embedded

# Debian's postgresql for the database tests; moto's S3 server comes with the dev dependencies.
test-deps:
	@if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then \
		echo "installing postgresql"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi

test: install test-deps lint
	uv run pytest $(PYTEST_ARGS)

lint: install
	uv run ruff check .
	uv run ruff format --check .

bench: install
	uv run python bench/slice.py
	uv run python bench/dataset_validation.py
	uv run python bench/image_training.py
	uv run python bench/flowers_ceiling.py

clean:
	rm -rf var .pytest_cache
