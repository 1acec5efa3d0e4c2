#!/usr/bin/env bash
# CI (docs/product.md F17): build the Linux bundle with PyInstaller and run its --smoke headless.
# Called by .ci/run after the tests. Skips (exit 0, with a message) only when PyInstaller
# cannot be installed; any build or smoke failure fails CI.
#
# VENV: the virtualenv to use (default .venv, the one .ci/run makes; else the active one).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${VENV:-}" ]; then
  if [ -x .venv/bin/python ]; then
    VENV=.venv
  elif [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python" ]; then
    VENV="$VIRTUAL_ENV"
  else
    python3 -m venv .venv
    VENV=.venv
  fi
fi
PYTHON="$VENV/bin/python"
echo "build-and-smoke: using $VENV"

if "$PYTHON" -c 'import PyInstaller, desktop_sms' >/dev/null 2>&1; then
  echo "build-and-smoke: PyInstaller $("$PYTHON" -m PyInstaller --version) already installed"
elif ! "$PYTHON" -m pip install -q -e '.[build]' \
     || ! "$PYTHON" -c 'import PyInstaller' >/dev/null 2>&1; then
  echo "build-and-smoke: SKIPPED: PyInstaller could not be installed into $VENV" \
       "(pip install -e '.[build]' failed); the bundle was not built or smoke-tested."
  exit 0
fi

PYTHON="$PYTHON" scripts/build_bundle.sh
