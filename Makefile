# The two commands of the README: `sudo make demo` and `sudo make test`.
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup demo test lint typecheck sim-long clean

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

clean:
	rm -rf build dist src/*.egg-info .pytest_cache .ruff_cache
