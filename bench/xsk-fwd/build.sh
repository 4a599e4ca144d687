#!/usr/bin/env bash
# Builds bench/xsk-fwd/xsk_fwd (the C AF_XDP reference peer) with -O2 against Debian's libbpf.
set -euo pipefail
cd "$(dirname "$0")"
CC=${CC:-cc}
"$CC" -O2 -g -Wall -Wextra -Werror -o xsk_fwd xsk_fwd.c -lbpf
echo "built $(pwd)/xsk_fwd"
