#!/usr/bin/env bash
# Build the one-folder bundle dist/Desktop SMS/ with PyInstaller (build.spec), run the built
# executable's --smoke headless, and print the build time and the bundle size.
#
#   PYTHON=/path/to/venv/bin/python scripts/build_bundle.sh
#
# PYTHON is an interpreter whose environment has desktop-sms and pyinstaller installed
# (pip install -e '.[build]'); default: python3 on PATH. Works on Linux and macOS.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"

case "$(uname -s)" in
  Darwin) exe="dist/Desktop SMS.app/Contents/MacOS/desktop-sms" ;;
  MINGW* | MSYS* | CYGWIN*) exe="dist/Desktop SMS/desktop-sms.exe" ;;
  *) exe="dist/Desktop SMS/desktop-sms" ;;
esac

echo "build: pyinstaller --noconfirm --clean build.spec"
start=$(date +%s)
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN build.spec
build_seconds=$(( $(date +%s) - start ))

if [ ! -x "$exe" ]; then
  echo "build: FAILED: $exe was not built" >&2
  exit 1
fi

# The smoke run gets a configuration folder of its own and the in-process local server
# (an external sandbox URL in the environment would take the place of the in-process one).
config_dir=$(mktemp -d)
trap 'rm -rf "$config_dir"' EXIT
limit=()  # macOS has no timeout(1)
if command -v timeout >/dev/null 2>&1; then
  limit=(timeout 120)
fi
echo "smoke: $exe --smoke"
start=$(date +%s)
if ! env -u DESKTOP_SMS_TWILIO_API_URL -u DESKTOP_SMS_DATABASE_URL \
     QT_QPA_PLATFORM=offscreen DESKTOP_SMS_CONFIG_DIR="$config_dir" \
     ${limit[@]+"${limit[@]}"} "$exe" --smoke; then
  echo "smoke: FAILED: the bundle's --smoke did not exit 0" >&2
  exit 1
fi
smoke_seconds=$(( $(date +%s) - start ))

size=$(du -sh "dist/Desktop SMS" | cut -f1)
size_mib=$(( $(du -sk "dist/Desktop SMS" | cut -f1) / 1024 ))
echo "bundle: dist/Desktop SMS/ is $size; built in ${build_seconds} s; smoke run ${smoke_seconds} s"
# The one-folder bundle must stay within BUNDLE_MAX_MIB (150 MiB): a new dependency or Qt
# module that pulls in a large library shows up here, not on a user's disk.
max_mib="${BUNDLE_MAX_MIB:-150}"
if [ "$size_mib" -gt "$max_mib" ]; then
  echo "bundle: FAILED: ${size_mib} MiB is more than ${max_mib} MiB" >&2
  exit 1
fi
