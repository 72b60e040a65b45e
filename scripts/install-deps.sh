#!/bin/sh
# Install the Debian packages streams-placer needs to build and test, when
# they are missing. Run as root on Debian bookworm; a no-op when all present.
set -eu

PACKAGES="build-essential autoconf automake pkg-config \
libmicrohttpd-dev libgnutls28-dev libcjson-dev libcurl4-openssl-dev libssl-dev libcunit1-dev \
libsqlite3-dev sqlite3 libyaml-dev openssl curl python3 python3-yaml valgrind"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages:$missing; run this script as root" >&2
    exit 1
fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >&2
