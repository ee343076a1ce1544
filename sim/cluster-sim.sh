#!/bin/sh
# cluster-sim.sh: the simulated telco against a three-replica cluster, beside the same run
# against one node (issue 19, "It must show" item 6; docs/scale-out.md has the result).
#
#   make cluster-sim      # = sh sim/cluster-sim.sh
#
# 1. One node: cmd/nextbest/demo.yaml (manual clock, seeded decisions), then
#    `nextbest simulate` with CUSTOMERS, DAYS and SEED.
# 2. Three replicas, each its own process, data directory and embedded NATS server (R3
#    stream), each with demo.yaml; the same simulation through a round-robin client
#    (--addr r1,r2,r3: every request to the next replica, with session consistency).
# 3. Both reports side by side, and their diff: the simulator's bookkeeping check (every
#    contact, response and outcome counted once, arm by arm) is in each report.
#
# CUSTOMERS (default 20000), DAYS (90), SEED (1), OUT (tmp/cluster-sim) and BIN
# (bin/nextbest) change the run.
set -eu
CUSTOMERS=${CUSTOMERS:-20000}
DAYS=${DAYS:-90}
SEED=${SEED:-1}
OUT=${OUT:-tmp/cluster-sim}
BIN=${BIN:-bin/nextbest}
CONF=cmd/nextbest/demo.yaml
[ -x "$BIN" ] || { echo "cluster-sim: no $BIN; run make build" >&2; exit 1; }
rm -rf "$OUT" && mkdir -p "$OUT"
pids=""
stop() { [ -n "$pids" ] && kill $pids 2>/dev/null; wait 2>/dev/null || true; pids=""; }
trap stop EXIT INT TERM

echo "cluster-sim: one node, $CUSTOMERS customers, $DAYS days, seed $SEED" >&2
"$BIN" serve --config "$CONF" --data "$OUT/single" --addr 127.0.0.1:8190 >"$OUT/single.out" 2>"$OUT/single.log" &
pids="$!"
start=$(date +%s)
"$BIN" simulate --wait 60s --addr 127.0.0.1:8190 --customers "$CUSTOMERS" --days "$DAYS" --seed "$SEED" >"$OUT/single.txt" 2>"$OUT/single.sim"
echo "cluster-sim: one node took $(( $(date +%s) - start )) s" >&2
stop

echo "cluster-sim: three replicas" >&2
for i in 1 2 3; do
	routes=""
	for j in 1 2 3; do [ "$j" = "$i" ] || routes="$routes${routes:+,}nats-route://127.0.0.1:652$j"; done
	"$BIN" serve --config "$CONF" --cluster "r$i" --data "$OUT/r$i" --addr "127.0.0.1:819$i" \
		--nats-listen "127.0.0.1:425$i" --nats-cluster-listen "127.0.0.1:652$i" --nats-routes "$routes" \
		>"$OUT/r$i.out" 2>"$OUT/r$i.log" &
	pids="$pids $!"
done
start=$(date +%s)
"$BIN" simulate --wait 120s --addr 127.0.0.1:8191,127.0.0.1:8192,127.0.0.1:8193 --customers "$CUSTOMERS" --days "$DAYS" --seed "$SEED" >"$OUT/cluster.txt" 2>"$OUT/cluster.sim"
echo "cluster-sim: three replicas took $(( $(date +%s) - start )) s" >&2
for i in 1 2 3; do
	printf 'r%s: ' "$i"
	curl -s "127.0.0.1:819$i/metrics" | grep -E '^nextbest_cluster_(applied_seq|lag_commands|unlogged_decisions_total) ' | tr '\n' ' '
	echo
done
stop

echo "== the bookkeeping checks"
grep -E "counts match|WARNING" "$OUT/single.txt" | sed 's/^/one node: /'
grep -E "counts match|WARNING" "$OUT/cluster.txt" | sed 's/^/cluster:  /'
echo "== the two reports' differences (none: identical)"
if diff "$OUT/single.txt" "$OUT/cluster.txt"; then echo "(none: the reports are identical)"; fi
