#!/usr/bin/env bash
# Issue 3's aim "zero false failovers at advert 0.05 s with both cores busy for 60 s":
# two `fulcrum run -f` directors, MASTER (priority 150) and BACKUP (priority 100), VRRPv3 advert_int 0.05
# (a backup declares the master dead after 3 x 50 ms + skew = 170 ms of silence), then one busy loop per
# core (plus BUSY_EXTRA more) for DURATION seconds. Counted on both sides over the loaded window: state
# transitions ("Entering ... STATE" lines in each daemon's log) and VIP additions on the backup
# (`ip monitor address`). Both must be zero.
#
# Usage (root): bench/vrrp-false-failover.sh   env: DURATION=60 BUSY_EXTRA=0 VRRP_RT=1 (0: run the VRRP
#   thread as a normal thread, FULCRUM_VRRP_RT_PRIORITY=0, to see what SCHED_FIFO buys)
#   FULCRUM_BIN=path/to/fulcrum (default: the Debug build of src/Fulcrum.Cli)
# Namespaces vrXXXXXX-{sw,a,b} (198.51.100.11/.12 on a bridge), removed on exit; only processes this script
# started are signalled, by PID. Exit status 1 if any false failover was seen.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then echo "vrrp-false-failover.sh: needs root (network namespaces, SCHED_FIFO)" >&2; exit 1; fi
DURATION=${DURATION:-60}
BUSY_EXTRA=${BUSY_EXTRA:-0}
VRRP_RT=${VRRP_RT:-1}
FULCRUM_BIN=${FULCRUM_BIN:-src/Fulcrum.Cli/bin/Debug/net10.0/fulcrum}
[ -x "$FULCRUM_BIN" ] || { echo "vrrp-false-failover.sh: no fulcrum at $FULCRUM_BIN (dotnet build Fulcrum.slnx)" >&2; exit 1; }
FULCRUM_BIN=$(realpath "$FULCRUM_BIN")
PREFIX="vr$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
VIP=198.51.100.100
WORK=$(mktemp -d /tmp/fulcrum-false-failover.XXXXXX)
PIDS=()
NAMESPACES=()

ns() { echo "$PREFIX-$1"; }
log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  sleep 0.5
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  for n in "${NAMESPACES[@]}"; do ip netns del "$n" 2>/dev/null; done
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

add_ns() { ip netns add "$1"; NAMESPACES+=("$1"); }
add_ns "$(ns sw)"
ip -n "$(ns sw)" link add br0 type bridge
ip -n "$(ns sw)" link set br0 up
declare -A ADDR=([a]=198.51.100.11 [b]=198.51.100.12)
for h in a b; do
  add_ns "$(ns $h)"
  ip -n "$(ns sw)" link add "p$h" type veth peer name eth0 netns "$(ns $h)"
  ip -n "$(ns sw)" link set "p$h" master br0 up
  ip -n "$(ns $h)" addr add "${ADDR[$h]}/24" dev eth0
  ip -n "$(ns $h)" link set lo up
  ip -n "$(ns $h)" link set eth0 up
done

start() {   # start HOST PRIORITY
  local h=$1 prio=$2
  cat > "$WORK/$h.conf" <<CONF
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    version 3
    priority $prio
    advert_int 0.05
    virtual_ipaddress {
        $VIP/32 dev eth0
    }
}
CONF
  local rt=10; [ "$VRRP_RT" = 1 ] || rt=0
  # ip netns exec execs: $! is fulcrum's own PID.
  FULCRUM_VRRP_RT_PRIORITY=$rt ip netns exec "$(ns "$h")" "$FULCRUM_BIN" run -i eth0 --control "$WORK/$h.sock" -f "$WORK/$h.conf" >"$WORK/$h.log" 2>&1 &
  PIDS+=("$!")
  for _ in $(seq 300); do [ -S "$WORK/$h.sock" ] && return 0; sleep 0.1; done
  echo "fulcrum in $h did not start: $(tail -n 5 "$WORK/$h.log")" >&2; exit 1
}
holds_vip() { ip -n "$(ns "$1")" -4 -o addr show dev eth0 | grep -q " $VIP/32 "; }
transitions() { grep -c "Entering .* STATE" "$WORK/$1.log" || true; }

start b 100
start a 150
for _ in $(seq 300); do holds_vip a && ! holds_vip b && break; sleep 0.1; done
holds_vip a && ! holds_vip b || { echo "a never became the only MASTER" >&2; exit 1; }
sleep 2
grep -h "VRRP thread scheduling" "$WORK/a.log" "$WORK/b.log" | sed 's/^/  /' >&2 || true

ip -n "$(ns b)" monitor address > "$WORK/mon" 2>&1 & PIDS+=("$!")
a0=$(transitions a); b0=$(transitions b)
cores=$(nproc); busy=$((cores + BUSY_EXTRA))
log "$PREFIX: a MASTER, b BACKUP at advert 0.05 s; $busy busy loops for $DURATION s (VRRP SCHED_FIFO: $VRRP_RT; load $(cut -d' ' -f1 /proc/loadavg))"
BUSY=()
for i in $(seq "$busy"); do
  # ip netns exec execs: $! is the busy loop's own PID.
  ip netns exec "$(ns a)" perl -e '1 while 1' & BUSY+=("$!"); PIDS+=("$!")
done
sleep "$DURATION"
for pid in "${BUSY[@]}"; do kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; done
sleep 1
a1=$(transitions a); b1=$(transitions b)
added=$(grep -c " $VIP/32 " "$WORK/mon" || true)
false_failovers=$(( (a1 - a0) + (b1 - b0) ))
holds_vip a && ! holds_vip b && final="a MASTER, b BACKUP" || final="a $(holds_vip a && echo has || echo lacks) the VIP, b $(holds_vip b && echo has || echo lacks) it"
echo "advert 0.05 s, $busy busy loops, ${DURATION} s, VRRP SCHED_FIFO $VRRP_RT: state transitions a $((a1 - a0)), b $((b1 - b0)); VIP events on b $added; end: $final; load $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$false_failovers" -eq 0 ] && [ "$added" -eq 0 ]
