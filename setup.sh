#!/usr/bin/env bash
# Set-up command 1 of 2: install what a fresh Debian 12 amd64 machine needs
# (Debian packages, then the Python dependencies in a virtual environment,
# .venv/), then build everything (`invoke build`: both kernels, our modules,
# the i386 guest image).  Run as root.
#
#   RAMZSWAP_SETUP_NO_BUILD=1  install only (no kernel/image build)
#   PYTHON=/path/to/python3    the interpreter the venv is made from
#                              (default: Debian's /usr/bin/python3)
#
# Set-up command 2 of 2 is `.venv/bin/invoke test-vm`.
set -euo pipefail
cd "$(dirname "$0")"
say() { echo "setup.sh: $*"; }
die() { echo "setup.sh: error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (apt-get, and mmdebstrap builds the guest as root): sudo ./setup.sh"

# Free space, checked before anything is written.
need_space() { # need_space DIR MIB WHAT
  local avail_kib
  avail_kib=$(df -Pk "$1" 2>/dev/null | awk 'NR == 2 { print $4 }')
  [ "${avail_kib:-0}" -ge $(($2 * 1024)) ] ||
    die "only $((${avail_kib:-0} / 1024)) MiB free under $1; $3 needs about $(($2 / 1024)) GiB$4"
}
# Two kernel builds, the unpacked source and the image need ~6 GiB.
cache=${RAMZSWAP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ramzswap}
mkdir -p "$cache" 2>/dev/null || die "cannot create the cache directory $cache"
need_space "$cache" $((6 * 1024)) "the build" " (set RAMZSWAP_CACHE to a roomier place)"
need_space . 1024 "the Python venv (.venv/)" ""

# arch-test: mmdebstrap needs it for a foreign-architecture (i386) root; it is
# only a Recommends of mmdebstrap, which --no-install-recommends skips.
PKGS=(
  build-essential gcc-multilib flex bison bc libelf-dev libssl-dev cpio kmod xz-utils
  sparse linux-source-6.1 linux-source-6.12 mmdebstrap arch-test e2fsprogs mount qemu-system-x86
  openssh-client python3 python3-venv ca-certificates
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  need_space /var/cache/apt/archives 2048 "installing ${#missing[@]} Debian packages" ""
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # apt-get update exits 0 when it only warns that an index could not be fetched.
  if ! apt-get update >/tmp/ramzswap-apt-update.log 2>&1 ||
     grep -qE '^(W|E|Err):.*(Failed to fetch|Temporary failure resolving|Could not resolve|unreachable|Could not connect)' \
       /tmp/ramzswap-apt-update.log; then
    die "apt-get update could not reach the Debian archive (no network?): see /tmp/ramzswap-apt-update.log"
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/ramzswap-apt-install.log 2>&1 ||
    die "apt-get install failed for: ${missing[*]}: see /tmp/ramzswap-apt-install.log"
fi

# Python: a virtual environment, never the system's site-packages (Debian's
# python3 is externally managed, PEP 668).
PY=${PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || die "no Python interpreter at $PY (apt-get install python3, or set PYTHON=)"
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  say "creating .venv with $($PY --version)"
  rm -rf .venv
  "$PY" -m venv .venv >/tmp/ramzswap-venv.log 2>&1 ||
    die "python3 -m venv failed (apt-get install python3-venv): see /tmp/ramzswap-venv.log"
fi
say "installing Python dependencies (pyproject.toml) into .venv"
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]' >/tmp/ramzswap-pip.log 2>&1 ||
  die "pip could not install the Python dependencies (no network or no PyPI?): see /tmp/ramzswap-pip.log"
.venv/bin/python -c 'import invoke, kconfiglib, paramiko, pytest' ||
  die "Python dependencies missing from .venv after pip: see /tmp/ramzswap-pip.log"

if [ "${RAMZSWAP_SETUP_NO_BUILD:-0}" != 1 ]; then
  exec .venv/bin/invoke build
fi
say "installed; build with .venv/bin/invoke build"
