#!/usr/bin/env bash
# Installs headless Chromium and a CJK font for the dashboard's browser test
# when they are missing and this machine can install Debian packages as root.
# Elsewhere it says what is missing; the browser test then skips and says why.
set -uo pipefail
have_font() { [ -d /usr/share/fonts/truetype/wqy ] || fc-list 2>/dev/null | grep -qi 'wqy\|noto sans cjk'; }
if command -v chromium >/dev/null 2>&1 && have_font; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium and fonts-wqy-zenhei for the browser test..." >&2
  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null; then
    exit 0
  fi
  echo "warning: could not install chromium; the browser test will skip" >&2
else
  echo "note: no chromium here (install Debian's chromium package); the browser test will skip" >&2
fi
exit 0
