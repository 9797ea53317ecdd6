# Everything a newcomer needs: `make demo` runs the demo, `make test` the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Every dependency, pinned: what CI installs and what `make audit` checks (`make lock` refreshes it).
LOCK   := requirements/lock.txt

.PHONY: install test lint typecheck pytest test-real clean lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c $(LOCK) -e '.[all,dev]'
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check src tests bench docs/captures
	$(BIN)/ruff format --check src tests bench docs/captures

typecheck: install
	$(BIN)/mypy
	$(BIN)/mypy docs/captures/make_captures.py

pytest: install
	$(BIN)/python -m pytest -q

# audit and docs run before pytest so the suite's summary line closes the output
test: lint typecheck audit docs pytest

# The API reference (mkdocs.yml, docs/reference/), generated from the docstrings into build/docs/
# (open build/docs/index.html). --strict: any warning, such as a reference that does not resolve,
# fails the build; tests/test_public_docstrings.py fails on a public name without a docstring.
.PHONY: docs
docs: install
	$(BIN)/mkdocs build --strict --quiet

# pip-audit over the locked dependencies (.ci/audit.py): a known vulnerability fails; an audit that
# cannot reach its vulnerability service prints "audit could not run: <reason>" and does not.
.PHONY: audit
audit: install
	$(BIN)/python .ci/audit.py

# The built-in emulator, a workspace, two syncs, search and a streamed answer (see README "Demo").
.PHONY: demo
demo: install
	$(BIN)/allm demo

# The README's pictures (docs/captures/*.svg): the real `allm sync` and `allm ask` in a pseudo-terminal
# on the built-in emulator, saved as SVG. Not part of `make test` (tests/cli/test_captures.py runs the
# script into a temporary folder); run it after a change to what those commands print, and commit.
.PHONY: captures
captures: install
	$(BIN)/python docs/captures/make_captures.py

# The client tests against a real AnythingLLM: needs ANYTHINGLLM_URL and ANYTHINGLLM_API_KEY.
test-real: install
	$(BIN)/python -m pytest -q -m integration

# Re-resolve every dependency (newest releases the pyproject ranges allow) in a throw-away venv and pin
# them; commit the result after `make test` passes with it.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet '.[all,dev]'
	{ echo "# make lock: every dependency of anythingllm-bridge[all,dev], pinned (Python 3.11, Linux)"; \
	  .lock-venv/bin/python -m pip freeze --exclude-editable | grep -iv '^anythingllm'; } > $(LOCK)
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build/docs

# Side by side with apything and a bare aiohttp loop, in its own venv (bench/compare/.venv).
.PHONY: bench-compare
bench-compare:
	bench/compare/run.sh
