# Trainyard: `make up` runs the platform locally; `make test` installs what the tests need and runs them.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
PYTEST_ARGS ?=

.PHONY: up test test-stress install test-deps web web-build web-deps lint bench clean images helm-env kustomize

install:
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --quiet uv
	# Bytecode compiled once here (as the images do: UV_COMPILE_BYTECODE=1): with PYTHONDONTWRITEBYTECODE
	# set, every worker process would otherwise compile torch from source again (~5 s per process).
	uv sync --frozen --compile-bytecode

# Local mode: development secrets are accepted and each service migrates its SQLite file at start.
up: install web
	TRAINYARD_ENVIRONMENT=local uv run python -m common.embedded

# The web app is built into the gateway package and committed with a stamp of its sources; it is rebuilt
# (Node and npm from the registry: npm ci with the committed package-lock.json) only when they changed.
web: install
	@uv run python web/source_hash.py --check 2>/dev/null || $(MAKE) web-build

web-build: web-deps
	cd web && npm run generate && npm run build
	uv run python web/source_hash.py --write

web-deps:
	@command -v npm >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	cd web && npm ci --no-audit --no-fund --loglevel=error

# Debian's postgresql for the database tests; moto's S3 server comes with the dev dependencies.
test-deps:
	@if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then \
		echo "installing postgresql"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi
	@if ! command -v chromium >/dev/null 2>&1; then \
		echo "installing chromium (the browser journeys drive it with playwright-core)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

# helm-sdkpy (the Helm v4 library, no helm binary) needs Python >= 3.12: its own venv, from PyPI.
HELM_VENV := .venv-helm
helm-env: $(HELM_VENV)/.installed
$(HELM_VENV)/.installed: helm/requirements-render.txt
	@py=""; for c in $$(uv python find '>=3.12' 2>/dev/null) \
		$$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.1[2-9]*/bin/python3 2>/dev/null) \
		$$(command -v python3.14 python3.13 python3.12 2>/dev/null); do \
		if "$$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then py="$$c"; break; fi; \
	done; \
	if [ -z "$$py" ]; then echo "helm-sdkpy needs Python >= 3.12 and none was found" >&2; exit 1; fi; \
	uv venv -q --allow-existing --python "$$py" $(HELM_VENV) && \
	uv pip install -q --python $(HELM_VENV)/bin/python -r helm/requirements-render.txt && touch $@

# Regenerate k8s/base from the chart (tests fail while the two differ).
kustomize: helm-env
	$(HELM_VENV)/bin/python helm/render.py kustomize

test: install test-deps helm-env web-deps web lint
	uv run pytest $(PYTEST_ARGS)

# The queue's full stress: 8 dispatchers x 200 runs, 20 workers killed mid-run (about 3 min on 2 cores).
test-stress: install test-deps
	TRAINYARD_STRESS_RUNS=200 TRAINYARD_STRESS_KILLS=20 uv run pytest tests/queue/test_workers.py

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
	rm -rf var .pytest_cache $(HELM_VENV)
