#!/usr/bin/env bash
# Install (as root) or name (otherwise) the Debian/Ubuntu packages the project needs.
# Usage: scripts/system-deps.sh [--check]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
packages=$(grep -v '^\s*#' "$here/../requirements/apt.txt" | tr '\n' ' ')
missing=()
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "Installation des paquets système : ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "Paquets système manquants. Installez-les avec :" >&2
  echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
