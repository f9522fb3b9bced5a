#!/usr/bin/env bash
# Installs the Debian packages swift-dato builds against (oneDNN, OpenBLAS, zlib, SQLite), if they are missing.
# Needs root (or sudo) on a Debian 12 machine with Swift 6 already installed.
# tools/fuzz/run.sh needs nothing more: libFuzzer and AddressSanitizer come with the Swift toolchain.
set -euo pipefail
packages=(libdnnl-dev libopenblas-dev zlib1g-dev libsqlite3-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
