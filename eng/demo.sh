#!/usr/bin/env bash
# Installs what Fulcrum needs on a fresh Debian machine, builds it and runs `fulcrum lab demo`:
# the LVS-DR seed cluster in network namespaces, with Fulcrum as the director.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "eng/demo.sh: the lab creates network namespaces and needs root (run with sudo)" >&2
  exit 1
fi
eng/install-deps.sh
dotnet build src/Fulcrum.Cli -c Release -nologo -v quiet
exec src/Fulcrum.Cli/bin/Release/net10.0/fulcrum lab demo "$@"
