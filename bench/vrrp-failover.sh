#!/usr/bin/env bash
# VRRP failover outage on the lab (issue 3 "Measure"), all pairings in one run, interleaved:
#   fulcrum-fulcrum     `fulcrum run -f keepalived.conf` on lb1 (priority 150) and lb2 (priority 100)
#   fulcrum-keepalived  Fulcrum on lb1 (master), Debian keepalived on lb2 (backup)
#   keepalived-keepalived
# for VRRPv2 advert_int 1 and VRRPv3 advert_int 0.1, and three ways the master goes away:
#   term   clean stop (SIGTERM): the master sends priority 0, the backup takes over after skew time
#   kill   SIGKILL of the master's VRRP process (keepalived: its VRRP child, then the parent)
#   death  SIGKILL and lb1's eth0 set down at once (node death)
# Metrics, from the signal (bash $EPOCHREALTIME just before kill):
#   takeover  the VIP is added on lb2 (`ip monitor address` in lb2, time-stamped as events arrive);
#             every row has it
#   http      the longest gap between served probes of a client loop that opens a new TCP connection to
#             VIP:80 every 20 ms (bench/lib/probe.pl, 200 ms timeout); only rows whose backup is Fulcrum,
#             as keepalived alone does not balance (no IPVS in this kernel)
# Each cell is RUNS runs (default 3), min/median/max in ms.
#
# Usage (root): bench/vrrp-failover.sh   env: RUNS=3 PAIRS="ff fk kk" VERSIONS="2 3" SCENARIOS="term kill death"
#               FULCRUM_BIN=path/to/fulcrum (default: the Native AOT binary that eng/test.sh publishes and
#               operators run; build it with `dotnet publish src/Fulcrum.Cli -c Release -r linux-x64 -o
#               artifacts/aot`. A JIT build pays the first-call compile of the stop path: +10 ms on `term`)
# KEEP_WORK=1 keeps the work directory (per run: daemon logs, monitor and probe logs, lb1's processes,
# nftables ruleset and the router's ARP entry for the VIP right after the stop).
# The lab gets a unique prefix (fo + random) and is always torn down on exit; only processes this
# script started are signalled, by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then echo "vrrp-failover.sh: needs root (network namespaces)" >&2; exit 1; fi
for tool in ip perl keepalived curl awk sort dotnet; do
  command -v "$tool" >/dev/null || { echo "vrrp-failover.sh: $tool missing" >&2; exit 1; }
done

RUNS=${RUNS:-3}
PAIRS=${PAIRS:-"ff fk kk"}
VERSIONS=${VERSIONS:-"2 3"}
SCENARIOS=${SCENARIOS:-"term kill death"}
FULCRUM_BIN=${FULCRUM_BIN:-artifacts/aot/fulcrum}
[ -x "$FULCRUM_BIN" ] || { echo "vrrp-failover.sh: no fulcrum at $FULCRUM_BIN (dotnet publish src/Fulcrum.Cli -c Release -r linux-x64 -o artifacts/aot)" >&2; exit 1; }
FULCRUM_BIN=$(realpath "$FULCRUM_BIN")
PREFIX="fo$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
VIP=198.51.100.100
WORK=$(mktemp -d /tmp/fulcrum-failover.XXXXXX)
RESULTS="$WORK/results"
PIDS=()            # every process this script starts; cleanup signals only these
: > "$RESULTS"

ns() { echo "$PREFIX-$1"; }
log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  sleep 0.5
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  "$FULCRUM_BIN" lab down --prefix "$PREFIX" >/dev/null 2>&1
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The lab alone (bench/lib/lab.cs): `fulcrum lab up` also starts a seed director in lb1, which would
# keep serving the VIP after the director under test is killed.
log "lab $PREFIX up"
dotnet run bench/lib/lab.cs -- up "$PREFIX" >/dev/null
LB1_ROUTES=$(ip -n "$(ns lb1)" -4 route show)

# --- configs -----------------------------------------------------------------------------------------
# $1 version, $2 priority, $3 with virtual_server (1 for Fulcrum)
write_conf() {
  local version=$1 prio=$2 vs=$3 advert=1
  [ "$version" = 3 ] && advert=0.1
  cat <<CONF
global_defs {
    vrrp_version $version
}
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority $prio
    advert_int $advert
    virtual_ipaddress {
        $VIP/32 dev eth0
    }
}
CONF
  if [ "$vs" = 1 ]; then
    cat <<CONF
virtual_server $VIP 80 {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 198.51.100.2 80 { weight 1 }
    real_server 198.51.100.3 80 { weight 1 }
    real_server 198.51.100.4 80 { weight 1 }
}
CONF
  fi
}

# --- daemons -------------------------------------------------------------------------------------------
# start_daemon KIND HOST VERSION PRIO: sets DAEMON_PID (the process to signal for kill/term) and
# DAEMON_PARENT (keepalived's parent, else the same PID).
start_daemon() {
  local kind=$1 host=$2 version=$3 prio=$4 dir="$WORK/$5/$2"
  rm -rf "$dir"; mkdir -p "$dir"
  if [ "$kind" = f ]; then
    write_conf "$version" "$prio" 1 > "$dir/keepalived.conf"
    # ip netns exec execs: $! is fulcrum's own PID.
    ip netns exec "$(ns "$host")" "$FULCRUM_BIN" run -i eth0 --control "$dir/fulcrum.sock" -f "$dir/keepalived.conf" >"$dir/log" 2>&1 &
    DAEMON_PID=$!; DAEMON_PARENT=$DAEMON_PID; PIDS+=("$DAEMON_PID")
    for _ in $(seq 200); do [ -S "$dir/fulcrum.sock" ] && return 0; kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
    echo "fulcrum in $host did not start: $(tail -n 5 "$dir/log")" >&2; return 1
  else
    write_conf "$version" "$prio" 0 > "$dir/keepalived.conf"
    # -P VRRP only, -R no respawn of a killed child; pid files in our directory (as KeepalivedProcess.cs).
    ip netns exec "$(ns "$host")" keepalived -n -l -D -P -G -R -f "$dir/keepalived.conf" -p "$dir/keepalived.pid" \
      -r "$dir/vrrp.pid" -c "$dir/checkers.pid" >"$dir/log" 2>&1 &
    DAEMON_PARENT=$!; PIDS+=("$DAEMON_PARENT")
    for _ in $(seq 100); do
      if [ -s "$dir/vrrp.pid" ]; then
        DAEMON_PID=$(cat "$dir/vrrp.pid")
        # Only a child of the parent we started is ever signalled.
        if [ "$(awk '{print $4}' "/proc/$DAEMON_PID/stat" 2>/dev/null)" = "$DAEMON_PARENT" ]; then return 0; fi
      fi
      kill -0 "$DAEMON_PARENT" 2>/dev/null || break; sleep 0.1
    done
    echo "keepalived in $host did not start its VRRP child: $(tail -n 5 "$dir/log")" >&2; return 1
  fi
}

stop_daemon() {   # parent pid: TERM, wait up to 5 s, then KILL
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

holds_vip() { ip -n "$(ns "$1")" -4 -o addr show dev eth0 | grep -q " $VIP/32 "; }

# --- one run ---------------------------------------------------------------------------------------------
# run_one PAIR VERSION SCENARIO REP: appends "PAIR VERSION SCENARIO takeover_ms http_ms" to RESULTS.
run_one() {
  local pair=$1 version=$2 scenario=$3 rep=$4 tag="$1-v$2-$3-$4"
  local k1=${pair:0:1} k2=${pair:1:1}
  ip -n "$(ns lb1)" addr del "$VIP/32" dev eth0 2>/dev/null || true
  ip -n "$(ns lb2)" addr del "$VIP/32" dev eth0 2>/dev/null || true

  start_daemon "$k2" lb2 "$version" 100 "$tag"; local b_pid=$DAEMON_PID b_parent=$DAEMON_PARENT
  start_daemon "$k1" lb1 "$version" 150 "$tag"; local m_pid=$DAEMON_PID m_parent=$DAEMON_PARENT
  local ok=""
  for _ in $(seq 150); do
    if holds_vip lb1 && ! holds_vip lb2; then ok=1; break; fi
    sleep 0.1
  done
  if [ -z "$ok" ]; then
    log "$tag: lb1 never became the only VIP holder; skipped"
    stop_daemon "$m_parent"; stop_daemon "$b_parent"; echo "$pair $version $scenario - -" >> "$RESULTS"; return
  fi
  if [ "$k2" = f ]; then
    for _ in $(seq 100); do
      ip netns exec "$(ns client)" curl -s -o /dev/null --max-time 0.5 "http://$VIP/" && break; sleep 0.1
    done
  fi
  sleep 1   # let GARP bursts and the backup's adverts settle

  perl bench/lib/addr-monitor.pl "$(ns lb2)" "$WORK/mon" & local mon=$!; PIDS+=("$mon")
  local probe=""
  if [ "$k2" = f ]; then
    ip netns exec "$(ns client)" perl bench/lib/probe.pl "$VIP" 80 0.02 0.2 "$WORK/probe" & probe=$!; PIDS+=("$probe")
  fi
  for _ in $(seq 50); do [ -s "$WORK/mon" ] && break; sleep 0.02; done
  sleep 1

  local t0
  case $scenario in
    term)  t0=$EPOCHREALTIME; kill -TERM "$m_parent" ;;
    kill)  t0=$EPOCHREALTIME; kill -KILL "$m_pid" ;;
    death) t0=$EPOCHREALTIME; kill -KILL "$m_pid"; ip -n "$(ns lb1)" link set eth0 down ;;
  esac
  if [ "$m_pid" != "$m_parent" ] && [ "$scenario" != term ]; then kill -KILL "$m_parent" 2>/dev/null || true; fi
  wait "$m_parent" 2>/dev/null || true
  ip netns pids "$(ns lb1)" > "$WORK/$tag/lb1-pids-after"; ip -n "$(ns router)" neigh show "$VIP" > "$WORK/$tag/router-neigh-after"; ip netns exec "$(ns lb1)" nft list ruleset > "$WORK/$tag/lb1-nft-after" 2>&1 || true

  # Wait for the takeover (10 s at most), then 2 s more of probes.
  for _ in $(seq 500); do holds_vip lb2 && break; sleep 0.02; done
  sleep 2
  kill -TERM "$mon" 2>/dev/null; wait "$mon" 2>/dev/null || true
  [ -n "$probe" ] && { kill -TERM "$probe" 2>/dev/null; wait "$probe" 2>/dev/null || true; }

  local takeover http="-"
  takeover=$(awk -v t0="$t0" -v vip=" $VIP/32 " '$1 != "ready" && index($0, vip) && $2 != "Deleted" {
      printf "%.1f", ($1 - t0) * 1000; exit }' "$WORK/mon")
  [ -n "$takeover" ] || takeover="-"
  if [ -n "$probe" ]; then
    # Longest gap between the starts of consecutive served probes, over the window from 0.5 s before
    # the signal to the end; probes start every 20 ms, so an undisturbed gap is ~20 ms.
    http=$(awk -v t0="$t0" '$1 == "S" && $2 >= t0 - 0.5 { if (prev && $2 - prev > gap) gap = $2 - prev; prev = $2 }
      END { if (prev) printf "%.1f", gap * 1000; else print "-" }' "$WORK/probe")
    # A last served probe well before the end means the client was never served again.
    awk -v t0="$t0" '$1 == "S" { last = $2 } END { exit !(last > t0) }' "$WORK/probe" || http="none"
  fi
  local lb1_after="no"; holds_vip lb1 && lb1_after="yes"
  log "$tag: takeover ${takeover} ms, http gap ${http} ms, VIP still on lb1 after: $lb1_after"
  echo "$pair $version $scenario $takeover $http $lb1_after" >> "$RESULTS"
  cp "$WORK/mon" "$WORK/mon-$tag"; [ -n "$probe" ] && cp "$WORK/probe" "$WORK/probe-$tag"

  stop_daemon "$b_parent"
  if [ "$scenario" = death ]; then
    ip -n "$(ns lb1)" link set eth0 up
    while read -r route; do [ -n "$route" ] && ip -n "$(ns lb1)" -4 route replace $route 2>/dev/null; done <<< "$LB1_ROUTES"
  fi
}

for rep in $(seq "$RUNS"); do
  for version in $VERSIONS; do
    for scenario in $SCENARIOS; do
      for pair in $PAIRS; do
        run_one "$pair" "$version" "$scenario" "$rep"
      done
    done
  done
done

# --- table ---------------------------------------------------------------------------------------------
stats() {   # min/median/max of numbers on stdin, or the non-numeric values seen
  sort -g | awk '{ if ($1 ~ /^[0-9.]+$/) v[n++] = $1; else other = other " " $1 }
    END { if (n == 0) { print (other == "" ? "-" : other); exit }
          printf "%.0f / %.0f / %.0f%s", v[0], v[int((n - 1) / 2)], v[n - 1], (n < '"$RUNS"' ? " (n=" n ")" : "") }'
}
name() { case $1 in ff) echo "Fulcrum -> Fulcrum" ;; fk) echo "Fulcrum -> keepalived" ;; kk) echo "keepalived -> keepalived" ;; esac; }
echo
echo "| master -> backup | VRRP | advert | stop | VIP takeover on lb2, ms (min / median / max) | HTTP probe outage, ms (min / median / max) | VIP left on lb1 |"
echo "|---|---|---:|---|---:|---:|---|"
for version in $VERSIONS; do
  for scenario in $SCENARIOS; do
    for pair in $PAIRS; do
      rows=$(awk -v p="$pair" -v v="$version" -v s="$scenario" '$1 == p && $2 == v && $3 == s' "$RESULTS")
      [ -n "$rows" ] || continue
      adv="1 s"; [ "$version" = 3 ] && adv="0.1 s"
      tk=$(awk '{print $4}' <<< "$rows" | stats)
      ht="n/a (keepalived backup)"; [ "${pair:1:1}" = f ] && ht=$(awk '{print $5}' <<< "$rows" | stats)
      left=$(awk '{print $6}' <<< "$rows" | sort | uniq -c | awk '{printf "%s%s x%s", sep, $2, $1; sep = ", "}')
      echo "| $(name "$pair") | v$version | $adv | $scenario | $tk | $ht | $left |"
    done
  done
done
