# Everything a contributor runs. The README's two commands are `make serve`
# and `make test`; each installs what it needs on first use.

PYTHON ?= python3
UV_VERSION := 0.13.9
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
LIGHTHOUSE := tools/lighthouse/node_modules/.bin/lighthouse
# Material prints a banner about MkDocs 2.0 on every build; it changes nothing.
export NO_MKDOCS_2_WARNING := 1
# Loopback traffic must never go through a proxy named by the environment.
export NO_PROXY := 127.0.0.1,localhost,::1
export no_proxy := $(NO_PROXY)

.PHONY: serve test lint build pytest update-outputs format test-snippets lighthouse clean

## serve: the site at http://127.0.0.1:8000/, reloaded when a page or snippet changes
serve: $(INSTALLED)
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

## test: lint, strict build, then every test (snippets, pages, built site in Chromium)
test: lint build pytest

lint: $(INSTALLED)
	$(BIN)/ruff check snippets tests tools benchmarks hooks
	$(BIN)/ruff format --check tests tools benchmarks hooks
	$(BIN)/python tests/format_snippets.py --check

build: $(INSTALLED)
	$(BIN)/mkdocs build --strict --site-dir site

# The site's tests read site/: a `make pytest` alone builds it first too, so
# that they never check a site older than docs/.
pytest: build
	SITE_DIR=site $(BIN)/pytest -n auto --cov

## update-outputs: rewrite the #> output comments of every snippet from a real run
update-outputs: $(INSTALLED)
	$(BIN)/pytest -p no:randomly --update-examples

## format: format snippets and tests
format: $(INSTALLED)
	$(BIN)/ruff format tests tools benchmarks hooks
	$(BIN)/python tests/format_snippets.py

## test-snippets: the snippet tests on another Python, e.g.
##   make test-snippets PYTHON=$(pyenv prefix 3.10.13)/bin/python
test-snippets:
	$(PYTHON) -m venv .venv-other
	.venv-other/bin/python -m pip install --quiet uv==$(UV_VERSION)
	UV_PROJECT_ENVIRONMENT=.venv-other .venv-other/bin/uv sync --locked --compile-bytecode --python .venv-other/bin/python --no-group docs
	.venv-other/bin/pytest -m "not site" -n auto -p no:cov

## lighthouse: Lighthouse scores of the home page and the heaviest pages (needs Node.js 18.16+)
lighthouse: build $(LIGHTHOUSE)
	$(BIN)/python tools/lighthouse/score_pages.py site

clean:
	rm -rf $(VENV) .venv-other site .coverage .coverage.* .pytest_cache .ruff_cache
	rm -rf lighthouse-reports tools/lighthouse/node_modules

# First use: a virtual environment with uv, then exactly what uv.lock lists.
$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# --compile-bytecode: the libraries' .pyc files are written once, here. Python
# would write them on first import, unless PYTHONDONTWRITEBYTECODE is set (as
# on some CI machines and containers): then every process, every test server
# included, compiles what it imports again, and the test run takes seconds more.
$(INSTALLED): pyproject.toml uv.lock $(BIN)/uv
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --locked --compile-bytecode --python $(BIN)/python
	touch $@

# Lighthouse, at the versions of tools/lighthouse/package-lock.json.
$(LIGHTHOUSE): tools/lighthouse/package-lock.json
	cd tools/lighthouse && npm ci --no-audit --no-fund
	touch $@
