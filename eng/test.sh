#!/usr/bin/env bash
# Runs every test: unit tests, then end-to-end tests on network namespaces (needs root) against the
# Native AOT `fulcrum` binary, the one an operator installs.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "eng/test.sh: the end-to-end tests create network namespaces and need root (run with sudo)" >&2
  exit 1
fi
eng/install-deps.sh
dotnet build Fulcrum.slnx -c Release -nologo
dotnet test tests/Fulcrum.Tests -c Release --no-build --logger "console;verbosity=minimal"
dotnet publish src/Fulcrum.Cli -c Release -r linux-x64 -o artifacts/aot -nologo
export FULCRUM_BIN="$PWD/artifacts/aot/fulcrum"
"$FULCRUM_BIN" adm -v
dotnet test tests/Fulcrum.EndToEnd -c Release --no-build --logger "console;verbosity=normal"
