#!/usr/bin/env bash
# The live engine under the reference customer's load, time-scaled: 3,000 synthetic agents and
# 1,500 outbound lines. Starts outdial trunk-sim (mid-team trunk: 30 % live, ring ~12 s, talk
# ~180 s) and agent-sim with 3,000 agents on loopback, durations divided by SCALE, runs
# `outdial run` for RUN seconds on a fresh SQLite store, and prints the engine's CPU time, peak
# memory, calls/s, pacing decision p99 and answer-to-connect p99, with the peers' CPU as the
# same-run reference. Bounded: every process stops by itself or is killed at the end.
#
#   benches/engine_load.sh            # defaults: SCALE=10 RUN=60 AGENTS=3000 LINES=1500
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${SCALE:-10}
RUN=${RUN:-60}
AGENTS=${AGENTS:-3000}
LINES=${LINES:-1500}
LEADS=${LEADS:-150000}
cargo build --release --bin outdial >/dev/null
B=target/release/outdial
D=$(mktemp -d)
trap 'kill $T $A 2>/dev/null || true; rm -rf "$D"' EXIT
DB="sqlite://$D/load.db"
$B --db "$DB" campaign apply sim/demo/campaign.yaml >/dev/null
awk -v n="$LEADS" 'BEGIN { print "phone,name"; for (i = 0; i < n; i++) printf "9%07d,C%d\n", 1000000 + i * 7, i }' \
  | $B --db "$DB" campaign load demo-verification - >/dev/null
$B trunk-sim --listen 127.0.0.1:0 --scenario sim/mid-team.yaml --time-scale "$SCALE" >"$D/t.out" &
T=$!
$B agent-sim --listen 127.0.0.1:0 --agents "$AGENTS" --scenario sim/mid-team.yaml --time-scale "$SCALE" --hold-until-bye >"$D/a.out" &
A=$!
sleep 1
TADDR=$(head -1 "$D/t.out" | sed 's/.*sip://')
AADDR=$(head -1 "$D/a.out" | sed 's/.*sip://')
cat >"$D/engine.yaml" <<YAML
node: load-1
sip:
  listen: 127.0.0.1:0
  trunks:
    - {name: sim, address: "$TADDR", max_channels: $LINES, max_cps: 2000, ping_interval: 0s, media: flow-i}
  groups:
    - {name: demo-trunks, trunks: [sim]}
admin: {listen: "127.0.0.1:0", tokens: [{name: bench, token: bench-token}]}
agents:
  - {uri: "sip:agent{n}@$AADDR", count: $AGENTS, group: demo, skills: [outbound, verification], wrap_up: auto}
auto_wrap_time: {dist: constant, mean: 30s}
campaigns: [{name: demo-verification}]
time_scale: $SCALE
run_for: ${RUN}s
shutdown_grace: 5s
lease: {ttl: 2m, ahead: 5s}
YAML
/usr/bin/time -v $B --db "$DB" run --config "$D/engine.yaml" --json >"$D/summary.json" 2>"$D/time.txt"
cpu() { awk '/^(utime|stime)/' /dev/null; ps -o cputime= -p "$1" 2>/dev/null | tr -d ' '; }
echo "engine summary: $(cat "$D/summary.json")"
grep -E "User time|System time|Maximum resident|Elapsed" "$D/time.txt" | sed 's/^\s*/engine /'
echo "trunk-sim cpu $(cpu $T)  agent-sim cpu $(cpu $A)"
