#!/usr/bin/env bash
# Set-up command 1 of 2: install what a fresh Debian 12 amd64 machine needs
# (Debian packages and the Python dependencies), then build everything
# (`invoke build`: both kernels, our modules, the i386 guest image).
# Run as root.  Set RAMZSWAP_SETUP_NO_BUILD=1 to install only.
set -euo pipefail
cd "$(dirname "$0")"

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: must run as root (apt-get, and mmdebstrap builds the guest as root): sudo ./setup.sh" >&2
  exit 1
fi

PKGS=(
  build-essential gcc-multilib flex bison bc libelf-dev libssl-dev cpio kmod xz-utils
  sparse linux-source-6.1 mmdebstrap e2fsprogs qemu-system-x86 openssh-client
  python3-pip python3-venv
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || {
    echo "setup.sh: apt-get install failed for: ${missing[*]}" >&2; exit 1; }
fi

PY=${PYTHON:-python3}
echo "setup.sh: installing Python dependencies (pyproject.toml) for $($PY --version)"
$PY -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v -e '^WARNING: Running pip as' -e "is ignored: it is neither" || true
$PY -c 'import invoke, kconfiglib, paramiko, pytest' || {
  echo "setup.sh: Python dependencies did not install (see pip output above)" >&2; exit 1; }

if [ "${RAMZSWAP_SETUP_NO_BUILD:-0}" != 1 ]; then
  exec $PY -m invoke build
fi
