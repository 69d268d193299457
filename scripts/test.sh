#!/usr/bin/env bash
# Run the whole suite (PostGIS + Redis + embedded). pytest's exit 5 ("no tests ran") is an error.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" = 5 ]; then
    echo "test.sh: pytest collected no tests; that is a failure, not a pass" >&2
    exit 1
fi
exit "$rc"
