#!/usr/bin/env bash
# Installs the Debian packages Fulcrum's lab, tests and benchmarks use. Idempotent; needs root.
set -euo pipefail
# clang and zlib1g-dev: Native AOT publishing of the `fulcrum` binary links with them.
# keepalived: the real VRRP peer of the interoperability tests (run by the tests, never as a service).
# libbpf-dev, bpftool: the kernel tier's BPF program is built with clang -target bpf and loaded by libbpf.
# hping3: the SYN-flood test. prometheus: its promtool parses our metrics page in the tests.
pkgs=(iproute2 nftables nginx-light wrk curl tcpdump iperf3 hyperfine ethtool procps iputils-arping iputils-ping
      clang zlib1g-dev keepalived libbpf-dev bpftool hping3 prometheus)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # Packaged daemons (nginx, keepalived, prometheus) must not start while installing: the tests run
  # their own instances inside namespaces. policy-rc.d 101 tells invoke-rc.d "not allowed".
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The lab runs its own nginx instances inside namespaces; the packaged one must not hold port 80.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now nginx keepalived prometheus >/dev/null 2>&1 || true; fi
