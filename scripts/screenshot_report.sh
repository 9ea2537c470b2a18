#!/usr/bin/env bash
# Opens a cortexbench report in headless Chromium (Debian package `chromium`) and saves a
# screenshot, to check that the self-contained HTML renders without network access.
#
# Usage: scripts/screenshot_report.sh cortexbench-results/report.html [report.png]
set -euo pipefail
report="$(realpath "$1")"
shot="$(realpath -m "${2:-${report%.html}.png}")"
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
if [ -z "$browser" ]; then
  echo "screenshot_report: no Chromium found; install it with: sudo apt-get install chromium" >&2
  exit 1
fi
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
# No network: the report must not need any.
"$browser" --headless --no-sandbox --disable-gpu --user-data-dir="$profile" \
  --proxy-server="127.0.0.1:9" --proxy-bypass-list="<-loopback>" \
  --window-size=1400,4000 --hide-scrollbars --screenshot="$shot" "file://$report" >/dev/null 2>&1
test -s "$shot"
echo "$shot"
