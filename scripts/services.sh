#!/usr/bin/env bash
# Make sure what the tests and the production mode need is installed and running:
# the PostGIS package for the local PostgreSQL, PostgreSQL itself, and Redis; node and npm
# (the console's front-end build) and Debian's chromium (the console's browser tests).
# Idempotent; safe to run on every `make test`. `services.sh node` or `services.sh chromium`
# does only that part.
set -euo pipefail

PG_HOST=${PGHOST:-127.0.0.1}
PG_PORT=${PGPORT:-5432}
REDIS_PORT=${REDIS_PORT:-6379}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else echo "services: need root for: $*" >&2; return 1
    fi
}

pg_major() {
    if [ -d /etc/postgresql ] && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
        ls /etc/postgresql | sort -V | tail -n 1
    elif command -v pg_config >/dev/null 2>&1; then
        pg_config --version | sed -E 's/[^0-9]*([0-9]+).*/\1/'
    fi
}

ensure_postgres() {
    if pg_isready -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null; then return 0; fi
    local major; major=$(pg_major)
    if [ -z "$major" ]; then
        echo "services: PostgreSQL is not installed; installing it" >&2
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        major=$(pg_major)
    fi
    echo "services: starting PostgreSQL $major" >&2
    as_root pg_ctlcluster --skip-systemctl-redirect "$major" main start || true
    for _ in $(seq 1 30); do
        pg_isready -q -h "$PG_HOST" -p "$PG_PORT" && return 0
        sleep 1
    done
    echo "services: PostgreSQL did not come up on $PG_HOST:$PG_PORT" >&2
    return 1
}

ensure_postgis() {
    local major; major=$(pg_major)
    local pkg="postgresql-${major}-postgis-3"
    if [ -f "/usr/share/postgresql/${major}/extension/postgis.control" ]; then return 0; fi
    echo "services: installing $pkg" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
}

ensure_redis() {
    if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then return 0; fi
    if ! command -v redis-server >/dev/null 2>&1; then
        echo "services: Redis is not installed; installing it" >&2
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    fi
    echo "services: starting Redis on $REDIS_PORT" >&2
    mkdir -p /tmp/wangge-redis
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
        --dir /tmp/wangge-redis --logfile /tmp/wangge-redis/redis.log
    for _ in $(seq 1 20); do
        redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    echo "services: Redis did not come up on port $REDIS_PORT" >&2
    return 1
}

ensure_node() {
    if command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1; then return 0; fi
    echo "services: installing node and npm (the console's front-end build)" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
}

# Debian's chromium, driven by Playwright with its executable path (no browser download).
ensure_chromium() {
    # and a Chinese font, so the screenshots show characters, not boxes
    if [ -x /usr/bin/chromium ] && fc-list :lang=zh 2>/dev/null | grep -q .; then return 0; fi
    echo "services: installing chromium and a Chinese font (the console's browser tests)" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null
}

if [ "$#" -gt 0 ]; then
    for part in "$@"; do "ensure_$part"; done
    exit 0
fi

ensure_postgres
ensure_postgis
ensure_redis
ensure_node
ensure_chromium
echo "services: PostgreSQL+PostGIS on $PG_HOST:$PG_PORT and Redis on 127.0.0.1:$REDIS_PORT are ready; node, npm and chromium are installed" >&2
