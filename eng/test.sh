#!/usr/bin/env bash
# Runs every test: unit tests, then end-to-end tests on network namespaces (needs root).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "eng/test.sh: the end-to-end tests create network namespaces and need root (run with sudo)" >&2
  exit 1
fi
eng/install-deps.sh
dotnet build Fulcrum.slnx -c Release
dotnet test tests/Fulcrum.Tests -c Release --no-build --logger "console;verbosity=normal"
dotnet test tests/Fulcrum.EndToEnd -c Release --no-build --logger "console;verbosity=normal"
