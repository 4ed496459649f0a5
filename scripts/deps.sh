#!/usr/bin/env bash
# Checks the Debian packages aca builds and tests with; installs the missing ones when run as
# root, otherwise prints the exact apt-get line and fails.
set -eu
need=()
have_pc() { pkg-config --exists "$1" 2>/dev/null; }
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v cc >/dev/null 2>&1 || need+=(gcc)
command -v c++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
have_pc libcjson      || need+=(libcjson-dev)
have_pc libutf8proc   || need+=(libutf8proc-dev)
have_pc openblas      || need+=(libopenblas-dev)
have_pc sentencepiece || need+=(libsentencepiece-dev)
have_pc cmocka        || need+=(libcmocka-dev)
command -v gnuplot >/dev/null 2>&1 || need+=(gnuplot-nox)
[ ${#need[@]} -eq 0 ] && exit 0
line="apt-get install -y ${need[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "aca: missing Debian packages; install them with:" >&2
  echo "  sudo apt-get update && sudo $line" >&2
  exit 1
fi
echo "aca: installing missing Debian packages: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq "${need[@]}" >&2
