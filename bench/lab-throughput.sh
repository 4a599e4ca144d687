#!/usr/bin/env bash
# Throughput on the lab (design.md "The lab"), in one run, interleaved:
#   direct   client -> rs1, no director hop (the ceiling)
#   fulcrum-D  client -> VIP through `fulcrum run --driver D` in lb1 (LVS-DR, the seed's ipvsadm commands via
#            `fulcrum adm`), one scenario per driver in DRIVERS: afpacket = the C# tier alone; tc, xdp-generic =
#            the kernel tier (Linux/Bpf) forwarding established flows, C# the rest; xdp = the kernel tier in native
#            XDP, measured on a wire made fit for it for that scenario only (LabCluster.NativeXdpWire): the switch's
#            lb1 port runs fulcrum_peer.bpf.o (veth drops XDP_TX frames into a peer without an XDP program) and the
#            client sends complete checksums (ethtool -K eth0 tx off; native XDP loses CHECKSUM_PARTIAL).
#            afxdp = the C# tier on AF_XDP sockets (fulcrum_xsk redirects the claimed services, copy mode on veth).
#   xsk-c    client -> VIP through bench/xsk-fwd/xsk_fwd in lb1: a minimal C forwarder on one AF_XDP socket with the
#            same XDP program (fulcrum_xsk from fulcrum_dr.bpf.o), rewriting every claimed frame to rs1's MAC and
#            completing partial checksums, as Fulcrum's afxdp does: the reference the C# AF_XDP tier is measured against
#            (all its traffic goes to rs1: compare with BACKENDS=1 for HTTP; UDP goes to rs1 on every path)
#   nft      client -> VIP through a kernel stateless DR peer in lb1: an nftables netdev ingress rule that
#            rewrites the destination MAC to a real server's (jhash of the client address and port, so a
#            TCP flow sticks to one), the source MAC to lb1's, and forwards the frame back out of eth0
# Metrics: wrk requests/s with keep-alive (-t1 -c32), with one connection per request (Connection: close),
# and small-UDP packets/s received at the real server (iperf3 -u -l 64 -b 0, receiver's count).
# Each is run RUNS times (default 3); min/median/max and the ratios of every fulcrum-D to direct and to nft are printed.
#
# Usage (root): bench/lab-throughput.sh   env: RUNS=3 SECONDS_PER_RUN=5 BACKENDS=3 FULCRUM_BIN=path/to/fulcrum
#   FULCRUM_ARGS="--workers 1" adds options to `fulcrum run` (e.g. to compare worker counts)
#   DRIVERS="afpacket tc xdp-generic afxdp" picks the data paths compared (default: these four; xdp adds native XDP)
#   PEERS="xsk-c nft" picks the reference peers (default: both); XSK_MODE=native|generic the XDP mode of xsk-c
#   (default native, what `--driver afxdp` attaches on veth)
#   SCHED=rr the scheduler of VIP:80 (default rr, the seed's; wlc is ipvsadm's own default)
# BACKENDS=1 puts only rs1 behind VIP:80, so the ratio to direct measures the director hop alone
# (with 3, the VIP paths have three nginx processes to the direct path's one).
# The lab gets a unique prefix and is always torn down on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then echo "lab-throughput.sh: needs root (network namespaces)" >&2; exit 1; fi
for tool in ip nft wrk iperf3 curl dotnet awk; do
  command -v "$tool" >/dev/null || { echo "lab-throughput.sh: $tool missing (run eng/install-deps.sh)" >&2; exit 1; }
done

RUNS=${RUNS:-3}
BACKENDS=${BACKENDS:-3}   # real servers behind VIP:80 (rs1..rsN); the direct path always hits rs1 alone
DUR=${SECONDS_PER_RUN:-5}
read -r -a DRIVERS <<<"${DRIVERS:-afpacket tc xdp-generic afxdp}"
read -r -a PEERS <<<"${PEERS:-xsk-c nft}"
XSK_MODE=${XSK_MODE:-native}
PREFIX="flb$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
FULCRUM_BIN=${FULCRUM_BIN:-src/Fulcrum.Cli/bin/Release/net10.0/fulcrum}
VIP=198.51.100.100
RIPS=(198.51.100.2 198.51.100.3 198.51.100.4)
RS_MACS=(02:00:c6:33:64:02 02:00:c6:33:64:03 02:00:c6:33:64:04)
LB1_MAC=02:00:c6:33:64:0b
IPERF_PORT=5201
WORK=$(mktemp -d /tmp/fulcrum-bench.XXXXXX)
CONTROL="$WORK/fulcrum.sock"
PIDS=()           # every process this script starts, killed by PID on exit
FULCRUM_PID=""
XSK_PID=""

ns() { local host=$1; shift; ip netns exec "$PREFIX-$host" "$@"; }
lab() { dotnet run bench/lib/lab.cs -- "$@"; }

cleanup() {
  set +e
  director_off
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  lab down "$PREFIX" >/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- directors -------------------------------------------------------------------------------------
fulcrum_skip=""
xsk_skip=""
if [ ! -x "$FULCRUM_BIN" ]; then
  fulcrum_skip="no fulcrum binary at $FULCRUM_BIN (dotnet build Fulcrum.slnx -c Release, or set FULCRUM_BIN)"
fi

native_wire() { # on|off: the native-XDP wire for the fulcrum-xdp scenario (see the header)
  if [ "$1" = on ]; then
    ns sw ip link set dev lb1 xdpdrv obj "$(dirname "$FULCRUM_BIN")/fulcrum_peer.bpf.o" sec xdp &&
      ns client ethtool -K eth0 tx off >/dev/null
  else
    ns sw ip link set dev lb1 xdpdrv off 2>/dev/null || true
    ns client ethtool -K eth0 tx on >/dev/null 2>&1 || true
  fi
}

fulcrum_on() { # driver
  if [ "$1" = xdp ]; then native_wire on || { fulcrum_skip="no native-XDP wire (fulcrum_peer.bpf.o beside $FULCRUM_BIN?)"; return 1; }; fi
  # ip netns exec directly (not the ns function) so that $! is the daemon's own PID.
  # shellcheck disable=SC2086 # FULCRUM_ARGS is a list of options
  ip netns exec "$PREFIX-lb1" "$FULCRUM_BIN" run -i eth0 --control "$CONTROL" --driver "$1" ${FULCRUM_ARGS:-} >"$WORK/fulcrum.log" 2>&1 &
  FULCRUM_PID=$!
  PIDS+=("$FULCRUM_PID")
  # Up to 30 s: loading the kernel tier on a busy 2-CPU machine took more than the 5 s once allowed.
  for _ in $(seq 300); do [ -S "$CONTROL" ] && break; kill -0 "$FULCRUM_PID" 2>/dev/null || break; sleep 0.1; done
  if ! kill -0 "$FULCRUM_PID" 2>/dev/null || [ ! -S "$CONTROL" ]; then
    fulcrum_skip="fulcrum run did not start a control socket: $(tail -n 3 "$WORK/fulcrum.log" | tr '\n' ' ')"
    director_off; return 1
  fi
  # The seed's commands, lab addresses; UDP/TCP 5201 (iperf3) goes to rs1 only, as iperf3's data must
  # reach the server its control connection reached.
  local adm=("$FULCRUM_BIN" adm --control "$CONTROL")
  if ! ( "${adm[@]}" -A -t "$VIP:80" -s "${SCHED:-rr}" || exit 1
         for rip in "${RIPS[@]:0:BACKENDS}"; do "${adm[@]}" -a -t "$VIP:80" -r "$rip:80" -g || exit 1; done
         "${adm[@]}" -A -t "$VIP:$IPERF_PORT" -s rr || exit 1
         "${adm[@]}" -a -t "$VIP:$IPERF_PORT" -r "${RIPS[0]}:$IPERF_PORT" -g || exit 1
         "${adm[@]}" -A -u "$VIP:$IPERF_PORT" -s rr || exit 1
         "${adm[@]}" -a -u "$VIP:$IPERF_PORT" -r "${RIPS[0]}:$IPERF_PORT" -g || exit 1
         "${adm[@]}" -ln ) >"$WORK/adm.log" 2>&1; then
    fulcrum_skip="fulcrum adm failed: $(tail -n 3 "$WORK/adm.log" | tr '\n' ' ')"
    director_off; return 1
  fi
}

nft_on() {
  local map="" i
  for ((i = 0; i < BACKENDS; i++)); do map+="${map:+, }$i : ${RS_MACS[i]}"; done
  ns lb1 nft -f - <<NFT
table netdev fulcrum_bench {
  chain ingress {
    type filter hook ingress device "eth0" priority -500; policy accept;
    ip daddr $VIP tcp dport 80 ether saddr set $LB1_MAC ether daddr set jhash ip saddr . tcp sport mod $BACKENDS map { $map } fwd to "eth0"
    ip daddr $VIP meta l4proto { tcp, udp } th dport $IPERF_PORT ether saddr set $LB1_MAC ether daddr set ${RS_MACS[0]} fwd to "eth0"
  }
}
NFT
}

xsk_on() {
  local obj bin=bench/xsk-fwd/xsk_fwd
  obj="$(dirname "$FULCRUM_BIN")/fulcrum_dr.bpf.o"
  if [ ! -x "$bin" ]; then bench/xsk-fwd/build.sh >/dev/null || { xsk_skip="bench/xsk-fwd/build.sh failed"; return 1; }; fi
  [ -f "$obj" ] || { xsk_skip="no $obj (build Fulcrum first)"; return 1; }
  ip netns exec "$PREFIX-lb1" "$bin" eth0 "$obj" "${RS_MACS[0]}" "$XSK_MODE" \
    "tcp:$VIP:80" "tcp:$VIP:$IPERF_PORT" "udp:$VIP:$IPERF_PORT" >"$WORK/xsk.log" 2>&1 &
  XSK_PID=$!
  PIDS+=("$XSK_PID")
  for _ in $(seq 100); do grep -q "forwarding on" "$WORK/xsk.log" && break; kill -0 "$XSK_PID" 2>/dev/null || break; sleep 0.1; done
  if ! grep -q "forwarding on" "$WORK/xsk.log"; then
    xsk_skip="xsk_fwd did not start: $(tail -n 2 "$WORK/xsk.log" | tr '\n' ' ')"; director_off; return 1
  fi
}

director_off() {
  if [ -n "$XSK_PID" ]; then
    kill "$XSK_PID" 2>/dev/null || true
    wait "$XSK_PID" 2>/dev/null || true
    XSK_PID=""
  fi
  if [ -n "$FULCRUM_PID" ]; then
    kill "$FULCRUM_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$FULCRUM_PID" 2>/dev/null || break; sleep 0.1; done
    # Gone already after a clean stop: under set -e a failing kill must not end the run.
    kill -9 "$FULCRUM_PID" 2>/dev/null || true
    wait "$FULCRUM_PID" 2>/dev/null || true
    FULCRUM_PID=""
  fi
  ns lb1 nft delete table netdev fulcrum_bench 2>/dev/null || true
  native_wire off
}

# --- measurements ----------------------------------------------------------------------------------
wrk_rps() { # url [extra wrk args...]
  local url=$1; shift
  ns client wrk -t1 -c32 -d"${DUR}s" "$@" "$url" >"$WORK/wrk.out" 2>&1 || { echo 0; return; }
  awk '/Requests\/sec:/ { print $2 }' "$WORK/wrk.out"
}

udp_pps() { # address: iperf3 receiver's datagrams (total - lost) / its interval
  ns client iperf3 -c "$1" -p "$IPERF_PORT" -u -l 64 -b 0 -t "$DUR" >"$WORK/iperf.out" 2>&1 || { echo 0; return; }
  awk '/receiver/ { for (i = 1; i <= NF; i++) {
         if ($i ~ /^[0-9]+\/[0-9]+$/) { split($i, a, "/"); got = a[2] - a[1] }
         if ($i ~ /^[0-9.]+-[0-9.]+$/) { split($i, t, "-"); dur = t[2] - t[1] } }
         if (dur > 0) printf "%.0f\n", got / dur }' "$WORK/iperf.out"
}

measure() { # scenario run
  local scenario=$1 run=$2 target
  case $scenario in
    direct) target=${RIPS[0]} ;;
    *) target=$VIP ;;
  esac
  case $scenario in
    fulcrum-*) fulcrum_on "${scenario#fulcrum-}" || return 0 ;;
    xsk-c) xsk_on || return 0 ;;
    nft) nft_on ;;
  esac
  # Warm up: neighbour entries, the director's first connection.
  ns client curl -s --max-time 2 -o /dev/null "http://$target/" || true
  local ka close udp
  ka=$(wrk_rps "http://$target/")
  close=$(wrk_rps "http://$target/" -H "Connection: close")
  udp=$(udp_pps "$target")
  director_off
  printf '%s %s keepalive %s\n%s %s close %s\n%s %s udp %s\n' \
    "$scenario" "$run" "${ka:-0}" "$scenario" "$run" "${close:-0}" "$scenario" "$run" "${udp:-0}" >>"$WORK/results"
  printf '  run %s %-20s keep-alive %10s req/s   close %10s req/s   udp %10s pkt/s\n' "$run" "$scenario" "${ka:-0}" "${close:-0}" "${udp:-0}"
}

# --- run -------------------------------------------------------------------------------------------
echo "lab $PREFIX: bringing up"
lab up "$PREFIX"
ns lb1 ip addr add "$VIP/32" dev eth0   # the director holds the VIP, as in the seed
ip netns exec "$PREFIX-rs1" iperf3 -s -B "${RIPS[0]}" -p "$IPERF_PORT" >"$WORK/iperf-rip.log" 2>&1 & PIDS+=($!)
# In DR the reply must leave from the VIP: a server bound to the VIP answers from it.
ip netns exec "$PREFIX-rs1" iperf3 -s -B "$VIP" -p "$IPERF_PORT" >"$WORK/iperf-vip.log" 2>&1 & PIDS+=($!)
sleep 0.5
: >"$WORK/results"

scenarios=(direct)
for d in "${DRIVERS[@]}"; do scenarios+=("fulcrum-$d"); done
scenarios+=("${PEERS[@]}")
for run in $(seq "$RUNS"); do
  for s in "${scenarios[@]}"; do
    case $s in fulcrum-*) [ -n "$fulcrum_skip" ] && continue ;; xsk-c) [ -n "$xsk_skip" ] && continue ;; esac
    measure "$s" "$run"
  done
done

echo
echo "wrk -t1 -c32 -d${DUR}s; iperf3 -u -l 64 -b 0 -t $DUR; $RUNS runs each, interleaved; nproc=$(nproc)"
echo "VIP:80 (${SCHED:-rr}) -> rs1..rs$BACKENDS; direct -> rs1; UDP $IPERF_PORT -> rs1 on every path; drivers: ${DRIVERS[*]}"
[ -n "$fulcrum_skip" ] && echo "fulcrum: skipped: $fulcrum_skip"
[ -n "$xsk_skip" ] && echo "xsk-c: skipped: $xsk_skip"
awk -v paths="direct ${scenarios[*]:1}" '
  { v[$1 " " $3] = v[$1 " " $3] " " $4 }
  function stats(key,   n, a, i, j, t) {
    n = split(v[key], a, " "); if (n == 0) return "";
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    med[key] = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    return sprintf("%12.0f %12.0f %12.0f", a[1], med[key], a[n])
  }
  END {
    printf "%-22s %-11s %12s %12s %12s\n", "path", "metric", "min", "median", "max"
    ns = split(paths, S, " "); split("keepalive close udp", M, " ")
    for (s = 1; s <= ns; s++) for (m = 1; m <= 3; m++) {
      k = S[s] " " M[m]; if (!(k in v)) continue
      printf "%-22s %-11s %s\n", S[s], (M[m] == "udp" ? "udp pkt/s" : M[m] " rps"), stats(k)
    }
    for (m = 1; m <= 3; m++) {
      d = "direct " M[m]; n = "nft " M[m]; x = "xsk-c " M[m]
      for (s = 1; s <= ns; s++) {
        if (S[s] !~ /^fulcrum-/) continue
        f = S[s] " " M[m]; if (!(f in med)) continue
        if (med[d] > 0) printf "ratio %-20s /direct %-9s %.2f\n", S[s], M[m], med[f] / med[d]
        if ((n in med) && med[n] > 0) printf "ratio %-20s /nft    %-9s %.2f\n", S[s], M[m], med[f] / med[n]
        if ((x in med) && med[x] > 0) printf "ratio %-20s /xsk-c  %-9s %.2f\n", S[s], M[m], med[f] / med[x]
      }
      if (med[d] > 0 && (n in med)) printf "ratio %-20s /direct %-9s %.2f\n", "nft", M[m], med[n] / med[d]
      if (med[d] > 0 && (x in med)) printf "ratio %-20s /direct %-9s %.2f\n", "xsk-c", M[m], med[x] / med[d]
    }
  }' "$WORK/results"
