# Everything a contributor runs. The README's two commands are `make serve`
# and `make test`; each installs what it needs on first use.

PYTHON ?= python3
UV_VERSION := 0.13.9
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
LHCI := tools/lighthouse/node_modules/.bin/lhci
# Material prints a banner about MkDocs 2.0 on every build; it changes nothing.
export NO_MKDOCS_2_WARNING := 1
# Loopback traffic must never go through a proxy named by the environment.
export NO_PROXY := 127.0.0.1,localhost,::1
export no_proxy := $(NO_PROXY)

.PHONY: serve test lint build pytest update-outputs page format test-snippets test-latest \
	lighthouse clean check-python

## serve: the site at http://127.0.0.1:8000/site/, reloaded when a page or snippet changes
# --dirty: a change rebuilds only its pages (a snippet's too: see
# hooks/snippet_pages.py), in well under a second; the navigation and the
# search index of other pages may lag until the next full build.
serve: $(INSTALLED)
	$(BIN)/mkdocs serve --dirty --dev-addr 127.0.0.1:8000

## test: lint, strict build, then every test (snippets, pages, built site in Chromium)
test: lint build pytest

lint: $(INSTALLED)
	$(BIN)/ruff check --line-length 79 snippets
	$(BIN)/ruff check tests tools benchmarks hooks
	$(BIN)/ruff format --check tests tools benchmarks hooks
	$(BIN)/python tests/format_snippets.py --check

build: $(INSTALLED)
	$(BIN)/mkdocs build --strict --site-dir site

# The site's tests read site/: a `make pytest` alone builds it first too, so
# that they never check a site older than docs/. The Node.js WebSocket peer's
# packages come from tests/peers/node/package-lock.json.
NODE_PEER := tests/peers/node/node_modules/.package-lock.json
pytest: build $(NODE_PEER)
	SITE_DIR=site $(BIN)/pytest -n auto --cov

$(NODE_PEER): tests/peers/node/package-lock.json
	cd tests/peers/node && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## update-outputs: rewrite the #> output comments (and docs/interop.md) from a
## real run; one snippet or page: make update-outputs SNIPPET=sockets/tcp_echo_client.py
# The hostile-input tests print nothing that a page shows (they wait for
# servers' deadlines instead): left out, one snippet takes 2 s, not 6.
update-outputs: $(INSTALLED)
	$(BIN)/pytest -p no:randomly -p no:cov --update-examples -m "not site and not hostile" \
	  $(if $(SNIPPET),--snippet $(SNIPPET)) $(if $(PAGE),--page $(PAGE))

## page: the tests of one page (or snippet), e.g. make page PAGE=docs/sockets/tcp.md;
## with BROWSER=1 also its check in Chromium (against the site as last built)
page: $(INSTALLED)
	$(if $(BROWSER),SITE_DIR=site) $(BIN)/pytest -p no:randomly -p no:cov -q \
	  $(if $(BROWSER),,-m "not site") $(if $(SNIPPET),--snippet $(SNIPPET)) $(if $(PAGE),--page $(PAGE))

## format: format snippets and tests, and apply ruff's safe fixes (import order...)
format: $(INSTALLED)
	$(BIN)/ruff check --fix --quiet --line-length 79 snippets || true
	$(BIN)/ruff check --fix --quiet tests tools benchmarks hooks || true
	$(BIN)/ruff format tests tools benchmarks hooks
	$(BIN)/python tests/format_snippets.py

## test-snippets: the snippet tests on another Python, e.g.
##   make test-snippets PYTHON=$(pyenv prefix 3.10.13)/bin/python
# One environment per Python version (.venv-3.10, .venv-3.13...), so that
# runs with two Pythons in a row never mix their packages. Only the test
# group is installed: the site's toolchain does not run on 3.10.
OTHER = .venv-$(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
test-snippets:
	test -x $(OTHER)/bin/uv || { $(PYTHON) -m venv $(OTHER) && \
	  $(OTHER)/bin/python -m pip install --quiet uv==$(UV_VERSION); } || { rm -rf $(OTHER); exit 1; }
	UV_PROJECT_ENVIRONMENT=$(OTHER) $(OTHER)/bin/uv sync --locked --compile-bytecode \
	  --python $(OTHER)/bin/python --no-default-groups --group test
	$(OTHER)/bin/pytest -m "not site" -n auto -p no:cov

## test-latest: the snippet tests against the newest release of every library
## that readers install (the lock file upgraded in a throwaway environment)
LATEST = .venv-latest
test-latest: $(INSTALLED)
	rm -rf $(LATEST) && mkdir -p $(LATEST)/project
	sed -E 's/"([A-Za-z0-9_.-]+)==[^;"]*/"\1/' pyproject.toml > $(LATEST)/project/pyproject.toml
	cp uv.lock $(LATEST)/project/
	$(BIN)/uv lock --upgrade --project $(LATEST)/project 2>&1 | tee $(LATEST)/upgrades.txt
	UV_PROJECT_ENVIRONMENT=$(CURDIR)/$(LATEST)/env $(BIN)/uv sync --project $(LATEST)/project \
	  --compile-bytecode --no-default-groups --group test
	$(LATEST)/env/bin/pytest -m "not site" -n auto -p no:cov -p no:randomly \
	  --rootdir . -c pyproject.toml

## lighthouse: Lighthouse CI scores of the home page and the heaviest pages, for a
## phone and a desktop (needs Node.js 18.16+); one page or preset:
##   make lighthouse PAGE=docs/http/server.md PRESET=mobile
# choose_pages.py writes a Lighthouse CI configuration per preset; each runs in
# its own folder, where lhci keeps its runs (.lighthouseci/) and writes the
# reports. A preset that fails does not stop the next one.
LIGHTHOUSE_PRESETS = $(or $(PRESET),mobile desktop)
lighthouse: build $(LHCI)
	rm -rf lighthouse-reports
	$(BIN)/python tools/lighthouse/choose_pages.py site lighthouse-reports \
	  $(addprefix --page ,$(PAGE)) $(addprefix --preset ,$(LIGHTHOUSE_PRESETS))
	status=0; for preset in $(LIGHTHOUSE_PRESETS); do \
	  (cd lighthouse-reports/$$preset && $(CURDIR)/$(LHCI) autorun --config=lighthouserc.json) \
	    || status=1; \
	done; exit $$status

clean:
	rm -rf $(VENV) .venv-[0-9]* $(LATEST) site .coverage .coverage.* .pytest_cache .ruff_cache
	rm -rf lighthouse-reports tools/lighthouse/node_modules

# The site's toolchain needs Python 3.11.5 or newer (pymdown-extensions 13):
# checked before anything is installed.
check-python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11, 5))' 2>/dev/null || { \
	  echo "The site needs Python 3.11.5 or newer; $(PYTHON) is" \
	    "$$($(PYTHON) --version 2>&1 || echo missing)." >&2; \
	  echo "Install one (pyenv install 3.11, say), then: make PYTHON=/path/to/python3 ..." >&2; \
	  exit 1; }

# First use: a virtual environment with uv, then exactly what uv.lock lists.
# A failed step removes the environment, so the next try (with another
# Python, say) starts clean.
$(BIN)/uv:
	@$(MAKE) --no-print-directory check-python
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION) \
	  || { rm -rf $(VENV); exit 1; }

# --compile-bytecode: the libraries' .pyc files are written once, here. Python
# would write them on first import, unless PYTHONDONTWRITEBYTECODE is set (as
# on some CI machines and containers): then every process, every test server
# included, compiles what it imports again, and the test run takes seconds more.
$(INSTALLED): pyproject.toml uv.lock $(BIN)/uv
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --locked --compile-bytecode \
	  --python $(BIN)/python || { rm -rf $(VENV); exit 1; }
	touch $@

# Lighthouse CI and Lighthouse, at the versions of tools/lighthouse/package-lock.json.
# Its overrides: "lighthouse": "$lighthouse" gives Lighthouse CI 0.15.1 (made
# for Lighthouse 12.6.1) the Lighthouse pinned beside it, 12.8.2, the last for
# Node 20; Lighthouse's trace_engine asks for third-party-web and
# legacy-javascript at "latest", which npm ci checks against the registry, so
# the lock would break at their next release: they are pinned to today's.
$(LHCI): tools/lighthouse/package-lock.json
	cd tools/lighthouse && npm ci --no-audit --no-fund
	touch $@
