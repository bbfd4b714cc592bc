# SpaceSync developer tasks. `make run` and `make test` do all set-up on a fresh
# Debian 12 machine (system packages when root, the .venv, the editable install).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Re-install only when the build's inputs (pyproject.toml, setup.py, the C accelerator)
# are newer than this stamp.
STAMP  := $(VENV)/.installed-test
BENCH_ARGS ?=

export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PIP_NO_INPUT := 1

.PHONY: help venv sysdeps-test sysdeps-run run test lint bench bench-quick package package-test clean distclean

help:
	@echo "make run          set up and start the desktop app (.venv/bin/spacesync-gui)"
	@echo "make test         set up and run the whole test suite headless"
	@echo "make lint         ruff check + mypy on the engine"
	@echo "make bench        full benchmark suite (W1 = 100k files; see docs/benchmarks.md)"
	@echo "make bench-quick  smaller benchmark run (minutes)"
	@echo "make package      frozen app in dist/ (PyInstaller) + Windows installer (NSIS)"
	@echo "make package-test build the frozen app and test it (CLI sync, GUI start/stop)"
	@echo "make venv         create .venv and pip install -e '.[test]'"
	@echo "make clean        remove caches, build output and benchmark work files"
	@echo "make distclean    clean + remove .venv"

venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml setup.py csrc/fastcopy.c | $(BIN)/python
	$(BIN)/python -m pip install -e '.[test]'
	@touch $@

# System libraries (installed only when missing, and only when root or passwordless sudo;
# otherwise .ci/run just names what is missing).
sysdeps-test:
	@bash .ci/run --deps-only base qt

sysdeps-run:
	@bash .ci/run --deps-only base qt window

run: sysdeps-run venv
	@if [ -n "$${DISPLAY:-}$${WAYLAND_DISPLAY:-}$${QT_QPA_PLATFORM:-}" ]; then \
		exec $(BIN)/spacesync-gui; \
	elif command -v xvfb-run >/dev/null; then \
		echo "no display: starting the app under xvfb-run"; \
		exec xvfb-run -a $(BIN)/spacesync-gui; \
	else \
		echo "no display: starting the app with QT_QPA_PLATFORM=offscreen"; \
		QT_QPA_PLATFORM=offscreen exec $(BIN)/spacesync-gui; \
	fi

test: sysdeps-test venv
	QT_QPA_PLATFORM=offscreen QT_API=pyside6 $(BIN)/pytest -q -p no:cacheprovider

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: venv
	$(BIN)/python bench/run.py $(BENCH_ARGS)

bench-quick: venv
	$(BIN)/python bench/run.py --quick $(BENCH_ARGS)

# The frozen app for this platform in dist/SpaceSync/ (PyInstaller, packaging/build.py)
# and, where makensis exists, dist/SpaceSync-<version>-setup.exe (installer.nsi; on Linux
# it wraps the Linux folder, which proves the script compiles). PyInstaller is the
# `package` extra; binutils (strip, objdump) and nsis are system packages.
PKG_STAMP := $(VENV)/.installed-package
PACKAGE_ARGS ?=

$(PKG_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[package]'
	@touch $@

package: sysdeps-test venv $(PKG_STAMP)
	@bash .ci/run --deps-only tools
	$(BIN)/python packaging/build.py $(PACKAGE_ARGS)

# Build the bundle in a temp dir and drive the frozen CLI and GUI (tests/test_packaging.py).
package-test: sysdeps-test venv $(PKG_STAMP)
	@bash .ci/run --deps-only tools
	QT_QPA_PLATFORM=offscreen QT_API=pyside6 $(BIN)/pytest -q -p no:cacheprovider -rs \
		tests/test_packaging.py

clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis bench/work
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) spacesync_gui/engine/_fastcopy*.so
