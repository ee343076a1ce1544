#!/bin/sh
# cluster-cost.sh: what a cluster costs (issue 19, "It must show" item 5; docs/scale-out.md
# has the figures and the model for three machines).
#
#   make cluster-cost     # = sh bench/cluster-cost.sh
#
# In one run, on this machine, with the same load generator (nextbest-bench loadtest:
# decide, then durable feedback; 32 and 128 concurrent clients):
#   single   one node, no cluster (Badger only; fsync per group commit);
#   stream1  one node that is a replica of a 1-server stream (--nats-replicas 1);
#   r3       three replicas, each its own process with its own embedded NATS server, an R3
#            stream; the load goes to the three in turn (client.RoundRobin).
# For each: requests/s, latency percentiles, and the machine's CPU per request (CPU busy
# x CPUs / requests/s, load generator included), from the loadtest's JSON.
#
# DURATION (default 10s), FEEDBACK_DECISIONS (30000), OUT (tmp/cluster-cost), BIN
# (bin/nextbest) and BENCH (bin/nextbest-bench) change the run. Needs jq.
set -eu
DURATION=${DURATION:-10s}
FEEDBACK_DECISIONS=${FEEDBACK_DECISIONS:-30000}
OUT=${OUT:-tmp/cluster-cost}
BIN=${BIN:-bin/nextbest}
BENCH=${BENCH:-bin/nextbest-bench}
command -v jq >/dev/null || { echo "cluster-cost: needs jq (apt-get install jq)" >&2; exit 1; }
[ -x "$BIN" ] && [ -x "$BENCH" ] || { echo "cluster-cost: no $BIN or $BENCH; run make build" >&2; exit 1; }
rm -rf "$OUT" && mkdir -p "$OUT"
pids=""
stop() { [ -n "$pids" ] && kill $pids 2>/dev/null; wait 2>/dev/null || true; pids=""; }
trap stop EXIT INT TERM

# waitready ADDR...: until every /readyz says ready (60 s at most).
waitready() {
	for a in "$@"; do
		n=0
		until curl -sf "http://$a/readyz" >/dev/null; do
			n=$((n + 1)); [ $n -lt 600 ] || { echo "cluster-cost: $a not ready" >&2; exit 1; }
			sleep 0.1
		done
	done
}

# load NAME ADDRS: the loadtest against ADDRS (comma-separated), its JSON in $OUT/NAME.json.
load() {
	echo "cluster-cost: $1 ($2)" >&2
	"$BENCH" loadtest --addr "$2" --duration "$DURATION" --phases decide,feedback \
		--feedback-decisions "$FEEDBACK_DECISIONS" --json "$OUT/$1.json" >"$OUT/$1.txt" 2>&1
}

"$BIN" serve --no-demo --insecure-local --data "$OUT/single" --addr 127.0.0.1:8290 >"$OUT/single.out" 2>"$OUT/single.log" &
pids="$!"
waitready 127.0.0.1:8290
load single 127.0.0.1:8290
stop

"$BIN" serve --no-demo --insecure-local --cluster s1 --nats-replicas 1 --data "$OUT/stream1" --addr 127.0.0.1:8291 \
	--nats-listen 127.0.0.1:4291 >"$OUT/stream1.out" 2>"$OUT/stream1.log" &
pids="$!"
waitready 127.0.0.1:8291
load stream1 127.0.0.1:8291
stop

for i in 1 2 3; do
	routes=""
	for j in 1 2 3; do [ "$j" = "$i" ] || routes="$routes${routes:+,}nats-route://127.0.0.1:653$j"; done
	"$BIN" serve --no-demo --insecure-local --cluster "r$i" --data "$OUT/r$i" --addr "127.0.0.1:829$((i + 1))" \
		--nats-listen "127.0.0.1:429$((i + 1))" --nats-cluster-listen "127.0.0.1:653$i" --nats-routes "$routes" \
		>"$OUT/r$i.out" 2>"$OUT/r$i.log" &
	pids="$pids $!"
done
waitready 127.0.0.1:8292 127.0.0.1:8293 127.0.0.1:8294
load r3 127.0.0.1:8292,127.0.0.1:8293,127.0.0.1:8294
for i in 1 2 3; do
	printf 'r%s: ' "$i" >>"$OUT/r3.txt"
	curl -s "127.0.0.1:829$((i + 1))/metrics" | grep -E '^nextbest_cluster_(applied_seq|lag_commands|unlogged_decisions_total) ' | tr '\n' ' ' >>"$OUT/r3.txt"
	echo >>"$OUT/r3.txt"
done
stop

cpus=$(nproc)
echo "| setup | phase | requests/s | p50 ms | p99 ms | errors | machine CPU busy | CPU ms per request |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
for n in single stream1 r3; do
	jq -r --arg n "$n" --argjson cpus "$cpus" '.phases[] |
		"| \($n) | \(.phase) | \(.requests_per_second|floor) | \(.p50_ms*100|round/100) | \(.p99_ms*100|round/100) | \(.errors) | \(.cpu_busy_percent|round)% | \((.cpu_busy_percent/100*$cpus*1000/.requests_per_second)*1000|round/1000) |"' "$OUT/$n.json"
done
echo
echo "($cpus CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load before the run: $(cut -d' ' -f1-3 /proc/loadavg))"
