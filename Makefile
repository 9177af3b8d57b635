# Trainyard: `make up` runs the platform locally; `make test` installs what the tests need and runs them.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
PYTEST_ARGS ?=

.PHONY: up test install test-deps lint bench clean images

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

# Container images (needs a Docker engine; none runs on the development machine, see README "Operating").
IMAGE_REPO ?= trainyard
IMAGE_TAG ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
images:
	for svc in gateway dataset inference; do \
		docker build -f services/$$svc/Dockerfile -t $(IMAGE_REPO)/$$svc:$(IMAGE_TAG) . || exit 1; \
	done
	docker build -f services/trainer/Dockerfile --target cpu -t $(IMAGE_REPO)/trainer:$(IMAGE_TAG)-cpu .
	docker build -f services/trainer/Dockerfile --target cuda -t $(IMAGE_REPO)/trainer:$(IMAGE_TAG)-cuda .

clean:
	rm -rf var .pytest_cache
