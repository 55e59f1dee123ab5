# Parallizer — every target creates/reuses .venv and installs from the lock file (uv.lock),
# again only when pyproject.toml or uv.lock changed. On a fresh machine: clone, `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
UV_VERSION := 0.13.9
UV     := $(BIN)/uv
# uv installs into this venv (not one of its own); --frozen: exactly the locked versions, the
# lock is never re-resolved here (`make lock` does that); --inexact: leaves pip and uv alone;
# --compile-bytecode, and compileall for our own (editable) sources: a command starts from
# .pyc files, not by compiling ~500 modules (0.6 s of every `parallizer fulfill` or `check`
# where PYTHONDONTWRITEBYTECODE is set, and on the first run everywhere else)
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
SYNC   := $(UV) sync --frozen --inexact --quiet --compile-bytecode
COMPILE := $(BIN)/python -m compileall -q -j 0 src >/dev/null
SCOPE  ?= .

# the settings a developer's shell or .env might hold; the suite must not see them
HOSTILE := PARALLIZER_LLM_URL=http://127.0.0.1:9/v1 PARALLIZER_LLM_API_KEY=bogus \
	PERPLEXITY_API_KEY=bogus PARALLIZER_ALLOWED_ROOTS=/nonexistent
# in-process (settings, fulfillers, web context, the API) and child processes (the CLI,
# `parallizer serve`)
HOSTILE_TESTS := tests/test_config.py tests/test_fulfillers.py tests/test_web_context.py \
	tests/service/test_api.py \
	tests/test_cli.py::test_a_plan_gets_grounded_questions_and_context \
	tests/test_cli.py::test_a_good_input_in_the_same_setup_succeeds \
	tests/test_cli_web_e2e.py::test_serial_flag_runs_web_queries_one_after_another \
	tests/service/test_server.py::test_sigterm_lets_an_in_flight_request_finish_and_exits_0

.PHONY: run test test-hostile typecheck serve serve-cluster bench eval eval-quick lint lock clean web \
	docs docs-serve

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=...)")'
	@$(PYTHON) -m venv $(VENV)

$(UV): | $(BIN)/python
	@$(PIP) install 'uv==$(UV_VERSION)'

# One stamp per install flavour; each is rebuilt only when pyproject.toml or uv.lock is newer.
$(VENV)/.installed-base: pyproject.toml uv.lock | $(UV)
	@echo "installing parallizer into $(VENV) from uv.lock ..."
	@$(SYNC)
	@$(COMPILE)
	@touch $@

$(VENV)/.installed-test: pyproject.toml uv.lock | $(UV)
	@echo "installing parallizer[test] into $(VENV) from uv.lock ..."
	@$(SYNC) --extra test
	@$(COMPILE)
	@touch $@ $(VENV)/.installed-base

$(VENV)/.installed-bench: pyproject.toml uv.lock | $(UV)
	@echo "installing parallizer[bench] into $(VENV) from uv.lock ..."
	@$(SYNC) --extra bench
	@$(COMPILE)
	@touch $@ $(VENV)/.installed-base

$(VENV)/.installed-docs: pyproject.toml uv.lock | $(UV)
	@echo "installing parallizer[docs] into $(VENV) from uv.lock ..."
	@$(SYNC) --extra docs
	@$(COMPILE)
	@touch $@ $(VENV)/.installed-base

run: $(VENV)/.installed-base
	@$(BIN)/parallizer fulfill examples/plan.md --scope $(SCOPE)

test: $(VENV)/.installed-test
	@$(BIN)/ruff check src tests scripts
	@$(BIN)/mypy
	@$(BIN)/python -m pytest

typecheck: $(VENV)/.installed-test
	@$(BIN)/mypy

# A representative part of the suite with hostile settings in the environment AND in a .env
# of the working directory (a temporary one: a developer's own .env is never touched).
test-hostile: $(VENV)/.installed-test
	@dir=$$(mktemp -d) && trap 'rm -rf "$$dir"' EXIT && \
	for kv in $(HOSTILE); do echo "$$kv"; done > "$$dir/.env" && \
	cd "$$dir" && env $(HOSTILE) "$(CURDIR)/$(BIN)/python" -m pytest -p no:cacheprovider \
		--rootdir "$(CURDIR)" -c "$(CURDIR)/pyproject.toml" $(addprefix $(CURDIR)/,$(HOSTILE_TESTS))

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

# Card quality on text nobody here wrote: the docs real trees ship, old docs against new code,
# planted plans, projects with real packages (trees fetched once, sha256-checked, projects
# installed once, into ~/.cache/parallizer-eval or $$PARALLIZER_EVAL_CACHE); offline and with
# the LLM emulator; writes eval-out/eval.{json,md}.
eval: $(VENV)/.installed-base
	@$(BIN)/parallizer eval --data eval --out eval-out

# The docs site (docs/, mkdocs.yml) into site/; --strict: a broken link or a page missing
# from the nav fails the build
docs: $(VENV)/.installed-docs
	@NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

docs-serve: $(VENV)/.installed-docs
	@NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8001

# The small subset marked `quick = true` (well under a minute once cached): CI runs it after the
# suite; it fails on a harness error (a fetch, a checksum, an install), never on a figure.
eval-quick: $(VENV)/.installed-base
	@$(BIN)/parallizer eval --data eval --out eval-out/quick --quick

lint: $(VENV)/.installed-test
	@$(BIN)/ruff check src tests scripts

# after changing a dependency in pyproject.toml: re-resolve, then commit uv.lock
lock: | $(UV)
	@$(UV) lock

clean:
	rm -rf $(VENV) build dist site src/*.egg-info .pytest_cache .ruff_cache .mypy_cache
