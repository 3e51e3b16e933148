# The two commands of the README: `sudo make demo` and `sudo make test`.
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint typecheck sim-long deb man clean

setup:
	./scripts/install-deps

demo: setup
	$(BIN)/twinbeat lab demo

lint:
	$(BIN)/ruff check src tests bench

typecheck:
	$(BIN)/mypy

test: setup lint typecheck
	$(BIN)/python -m pytest -q

sim-long: setup
	$(BIN)/python -m pytest -q tests/sim --sim-runs 10000

# dist/twinbeat_VERSION_ARCH.deb (docs/install.md, "From the Debian package").
deb:
	./scripts/build-deb

# twinbeat(8) and twinbeat-ha.cf(5), generated, into build/man.
man:
	./scripts/manpages build/man

clean:
	rm -rf build dist src/*.egg-info .pytest_cache .ruff_cache
