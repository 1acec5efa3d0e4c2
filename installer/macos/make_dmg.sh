#!/usr/bin/env bash
# Make dist/Desktop-SMS-<version>.dmg from "dist/Desktop SMS.app" (macOS: needs hdiutil).
# Build the app first: pyinstaller --noconfirm --clean build.spec
# The image holds the app and a link to /Applications, to drag it across.
set -euo pipefail
cd "$(dirname "$0")/../.."

app="dist/Desktop SMS.app"
if [ ! -d "$app" ]; then
  echo "make_dmg: $app not found; run pyinstaller build.spec first" >&2
  exit 1
fi
version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' desktop_sms/__init__.py)
if [ -z "$version" ]; then
  echo "make_dmg: no __version__ in desktop_sms/__init__.py" >&2
  exit 1
fi
dmg="dist/Desktop-SMS-$version.dmg"

staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
# ditto keeps the frameworks' symlinks, permissions and the code signature intact.
ditto "$app" "$staging/Desktop SMS.app"
ln -s /Applications "$staging/Applications"

rm -f "$dmg"
hdiutil create -volname "Desktop SMS $version" -srcfolder "$staging" -fs HFS+ \
  -format UDZO -imagekey zlib-level=9 -ov "$dmg"
hdiutil verify "$dmg"
echo "make_dmg: $dmg ($(du -h "$dmg" | cut -f1))"
