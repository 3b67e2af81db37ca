#!/usr/bin/env bash
# make dist: the frozen one-folder application (installer/dmp.spec) in dist/dmp-client/, then
# its smoke test (installer/smoke_test.py). Usage: scripts/build_frozen.sh [--no-smoke]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${VENV:-.venv}/bin
rm -rf dist/dmp-client build/pyinstaller
started=$(date +%s)
"$bin/pyinstaller" --noconfirm --clean --log-level WARN \
  --distpath dist --workpath build/pyinstaller installer/dmp.spec
echo "dist/dmp-client: built in $(( $(date +%s) - started )) s, $(du -sh dist/dmp-client | cut -f1)"
[ "${1:-}" = "--no-smoke" ] || "$bin/python" installer/smoke_test.py dist/dmp-client
