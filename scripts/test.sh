#!/usr/bin/env bash
# Run the whole suite (PostGIS + Redis + embedded) in parallel with pytest-xdist: one worker
# per core (nproc), at most 4 (WANGGE_TEST_WORKERS=N sets N; 0 runs serially in this process).
# Tests go to whichever worker is free, except those sharing a dear fixture (a module-scoped
# one, the replica pair), kept on one worker by tests/conftest.py's xdist groups (--dist
# loadgroup), and those marked `alone`, which run while the other workers wait. Each worker has
# its own PostGIS databases and its own Redis database (tests/conftest.py: WANGGE_TEST_REDIS_DBS,
# else the database of WANGGE_TEST_REDIS_URL minus the worker's number). The 15 slowest tests
# are listed at the end. Extra arguments go to pytest. pytest's exit 5 ("no tests ran") is an error.
set -uo pipefail
cd "$(dirname "$0")/.."
workers=${WANGGE_TEST_WORKERS:-}
if [ -z "$workers" ]; then
    workers=$(nproc 2>/dev/null || echo 1)
    [ "$workers" -gt 4 ] && workers=4
    [ "$workers" -lt 2 ] && workers=0  # one core: no worker processes at all
fi
if [ "$workers" = 0 ]; then
    parallel=(-n 0)
else
    parallel=(-n "$workers" --dist loadgroup)
fi
# Bytecode is cached (in __pycache__, which git ignores) even where PYTHONDONTWRITEBYTECODE is
# set: the run starts Python some 90 times (the workers, every `wangge` command and server a
# test runs), and each would otherwise compile the project's modules again, and each worker
# rewrite and compile every test module (5 s of a worker's collection).
unset PYTHONDONTWRITEBYTECODE
.venv/bin/python -m pytest -q --durations=15 "${parallel[@]}" "$@"
rc=$?
if [ "$rc" = 5 ]; then
    echo "test.sh: pytest collected no tests; that is a failure, not a pass" >&2
    exit 1
fi
exit "$rc"
