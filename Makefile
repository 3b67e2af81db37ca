# The two commands of the README: `make run` (main job on the embedded sandbox) and `make test`.
# Each does its own set-up: system packages (scripts/system-deps.sh), then a virtual environment
# with the pinned dependencies of requirements/constraints.txt.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup lint bench soak fuzz constraints clean sandbox-down dist

SANDBOX_DIR ?= $(CURDIR)/.sandbox

# With a display, the desktop application opens against the sandbox (card PIN: 1234); without
# one (CI, a server), the main job runs from the command line (dmp demo).
run: setup
	$(BIN)/dmp-sandbox --dir $(SANDBOX_DIR) rig up > $(SANDBOX_DIR).env
	. $(SANDBOX_DIR).env && if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then $(BIN)/dmp-gui; else $(BIN)/dmp demo; fi

sandbox-down:
	$(BIN)/dmp-sandbox --dir $(SANDBOX_DIR) rig down

# The tests bring up their own card rig; a rig left up by `make run` holds the virtual readers.
test: setup lint
	-@$(BIN)/dmp-sandbox --dir $(SANDBOX_DIR) rig down 2>/dev/null
	$(BIN)/python -m pytest

setup: $(STAMP)

$(STAMP): pyproject.toml requirements/constraints.txt requirements/apt.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 ou plus récent est requis")'
	scripts/system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c requirements/constraints.txt -e '.[dev]'
	touch $(STAMP)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/architecture

bench: setup
	$(BIN)/python bench/bench_insc.py
	$(BIN)/python bench/bench_td02.py
	$(BIN)/python bench/bench_xds.py
	$(BIN)/python bench/bench_listing.py
	$(BIN)/python bench/bench_store.py
	$(BIN)/python bench/bench_render.py
	$(BIN)/python bench/bench_structured_preview.py
	$(BIN)/python bench/bench_gui.py
	$(BIN)/python bench/bench_startup.py --runs 7

# The response parsers' property test (tests/fuzz) at length: FUZZ_EXAMPLES mutated answers per parser
# (make test runs 150, derandomized), with fresh randomness each run and the outcomes counted.
FUZZ_EXAMPLES ?= 5000
fuzz: setup
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_RANDOM=1 FUZZ_STATS=1 $(BIN)/python -m pytest -s -q -p no:cacheprovider --timeout=0 tests/fuzz

# Twenty minutes of the real main window (timers, a patient open, queue entries) offscreen against
# the in-process sandbox host, printing sys.getrefcount(None) and RSS every minute (bench/README.md).
# Shorter: `make soak SOAK_MINUTES=2`.
SOAK_MINUTES ?= 20
soak: setup
	$(BIN)/python bench/soak_gui.py --minutes $(SOAK_MINUTES)

# The frozen application (PyInstaller one-folder, installer/dmp.spec) in dist/dmp-client/: dmp and
# dmp-gui side by side, then its smoke test (installer/smoke_test.py); then the MSI (wixl) and the
# NSIS installer around it, checked (installer/build_packages.py; installer/README.md). On Linux the
# payload is the Linux bundle: this checks the packaging; Windows packages are built on Windows.
dist: setup
	VENV=$(VENV) scripts/build_frozen.sh
	$(BIN)/python installer/build_packages.py --bundle dist/dmp-client --sortie dist

# Re-pin after changing dependencies in pyproject.toml.
constraints:
	rm -rf .venv-pin && $(PYTHON) -m venv .venv-pin
	.venv-pin/bin/python -m pip install -q -e '.[dev]'
	( echo "# Exact versions of every Python dependency (regenerate with make constraints)."; .venv-pin/bin/python -m pip freeze --exclude-editable | grep -v "^-e" ) > requirements/constraints.txt
	rm -rf .venv-pin

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
