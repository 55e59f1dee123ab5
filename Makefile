# Parallizer — every target creates/reuses .venv and installs only when pyproject.toml changed.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
SCOPE  ?= .

.PHONY: run test serve serve-cluster bench eval lint clean web

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=...)")'
	@$(PYTHON) -m venv $(VENV)

# One stamp per install flavour; each is rebuilt only when pyproject.toml is newer.
$(VENV)/.installed-base: pyproject.toml | $(BIN)/python
	@echo "installing parallizer into $(VENV) ..."
	@$(PIP) install -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	@echo "installing parallizer[test] into $(VENV) ..."
	@$(PIP) install -e '.[test]'
	@touch $@ $(VENV)/.installed-base

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	@echo "installing parallizer[bench] into $(VENV) ..."
	@$(PIP) install -e '.[bench]'
	@touch $@ $(VENV)/.installed-base

run: $(VENV)/.installed-base
	@$(BIN)/parallizer fulfill examples/plan.md --scope $(SCOPE)

test: $(VENV)/.installed-test
	@$(BIN)/ruff check src tests
	@$(BIN)/python -m pytest

serve: $(VENV)/.installed-base
	@echo "the web page: http://127.0.0.1:8000/app?scope=$(abspath $(SCOPE))&plan=$(abspath examples/plan.md)"
	@$(BIN)/parallizer serve --host 127.0.0.1 --port 8000

# a local Redis (port 6390, data in .redis/) and 3 workers sharing it, for trying a cluster
serve-cluster: $(VENV)/.installed-base
	@command -v redis-server >/dev/null || { echo "needs redis-server (apt-get install -y redis-server)"; exit 2; }
	@mkdir -p .redis
	@redis-server --port 6390 --bind 127.0.0.1 --dir .redis --save '' --appendonly yes --daemonize yes --pidfile "$(CURDIR)/.redis/redis.pid"
	@echo "redis-server on 127.0.0.1:6390 (stop it: kill \$$(cat .redis/redis.pid))"
	@PARALLIZER_REDIS_URL=redis://127.0.0.1:6390/0 $(BIN)/parallizer serve --host 127.0.0.1 --port 8000 --workers 3

# The page's front end (web/) into src/parallizer/clients/web/static, which is committed:
# run after changing web/src; the versions come from web/package-lock.json.
web:
	@cd web && npm ci --no-audit --no-fund && npm run build

bench: $(VENV)/.installed-bench
	@$(BIN)/parallizer bench --out bench-out

# Card quality on real trees (fetched once, sha256-checked, into ~/.cache/parallizer-eval or
# $$PARALLIZER_EVAL_CACHE): offline and with the LLM emulator; writes eval-out/eval.{json,md}.
eval: $(VENV)/.installed-base
	@$(BIN)/parallizer eval --data eval --out eval-out

lint: $(VENV)/.installed-test
	@$(BIN)/ruff check src tests

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
