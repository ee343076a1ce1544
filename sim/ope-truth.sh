#!/bin/sh
# ope-truth.sh: off-policy estimates against the simulated telco's ground truth (issue 17,
# "It must show" item 2; docs/evaluation.md has the table and what it shows).
#
#   make ope-truth            # = sh sim/ope-truth.sh (about 20 minutes on 2 busy cores)
#
# 1. Log 90 days under the default NBA policy (cmd/nextbest/demo.yaml: threshold 5,
#    alpha 0.5, the demo telco and its NBA / legacy / holdout experiment).
# 2. Evaluate other policies offline on that log, each NBA policy re-scored with the
#    models each decision was made with: alpha 1, threshold 15, the three retention
#    offers disabled, and uniformly at random.
# 3. Run each of the first three online: a fresh server with that configuration, the
#    same world, the same seed, the same 90 days; its NBA arm's observed mean reward is
#    the truth the offline estimate must meet. (Uniform random has no online
#    configuration; its weights are flagged offline.)
# 4. Print every estimate against its online result: z = (offline - online) /
#    sqrt(SE_offline^2 + SE_online^2), the two runs' sampling errors being independent.
#
# CUSTOMERS (default 20000), DAYS (90), SEED (1), OUT (tmp/ope) and BIN (bin/nextbest)
# change the run. Needs jq.
set -eu
CUSTOMERS=${CUSTOMERS:-20000}
DAYS=${DAYS:-90}
SEED=${SEED:-1}
OUT=${OUT:-tmp/ope}
BIN=${BIN:-bin/nextbest}
CONF=cmd/nextbest/demo.yaml
command -v jq >/dev/null || { echo "ope-truth: needs jq (apt-get install jq)" >&2; exit 1; }
[ -x "$BIN" ] || { echo "ope-truth: no $BIN; run make build" >&2; exit 1; }
mkdir -p "$OUT"

# The configurations: the demo's, and each change made in its YAML.
cp "$CONF" "$OUT/baseline.yaml"
cp "$CONF" "$OUT/noretention.yaml" # the retention offers are disabled through the API
sed 's/^  alpha: 0\.5$/  alpha: 1.0/' "$CONF" >"$OUT/alpha1.yaml"
sed 's/^  threshold: 5$/  threshold: 15/' "$CONF" >"$OUT/threshold15.yaml"
grep -q '^  alpha: 1.0$' "$OUT/alpha1.yaml" && grep -q '^  threshold: 15$' "$OUT/threshold15.yaml" ||
	{ echo "ope-truth: $CONF no longer has 'alpha: 0.5' and 'threshold: 5'; update this script" >&2; exit 1; }

# run NAME PORT: a fresh server with $OUT/NAME.yaml on PORT, then the simulation, then stop.
run() {
	name=$1 port=$2 dir=$OUT/$1
	rm -rf "$dir"
	mkdir -p "$dir"
	"$BIN" serve --config "$OUT/$name.yaml" --addr "127.0.0.1:$port" --data "$dir/store" >"$dir/server.log" 2>&1 &
	pid=$!
	i=0
	until [ "$("$BIN" simulate --check --addr "127.0.0.1:$port" 2>/dev/null || true)" = ready ]; do
		sleep 0.5
		i=$((i + 1))
		[ $i -lt 240 ] || { echo "ope-truth: the $name server did not start (see $dir/server.log)" >&2; kill $pid; exit 1; }
	done
	if [ "$name" = noretention ]; then
		for a in retention-10 retention-20 retention-30; do
			curl -fsS -X DELETE "http://127.0.0.1:$port/v1/actions/$a" >/dev/null
		done
	fi
	echo "ope-truth: simulating $name ($CUSTOMERS customers, $DAYS days, seed $SEED)" >&2
	"$BIN" simulate --addr "127.0.0.1:$port" --customers "$CUSTOMERS" --days "$DAYS" --seed "$SEED" >"$dir/report.txt" 2>"$dir/simulate.log"
	tail -n 2 "$dir/simulate.log" >&2
	kill $pid
	wait $pid || true
}

run baseline 8191

cat >"$OUT/spec.json" <<'EOF'
{"policies": [
  {"name": "logged", "type": "logged"},
  {"name": "alpha 1", "type": "nba", "models": "logged", "alpha": 1},
  {"name": "threshold 15", "type": "nba", "models": "logged", "threshold": 15},
  {"name": "no retention", "type": "nba", "models": "logged", "actions": {"retention-10": {"enabled": false}, "retention-20": {"enabled": false}, "retention-30": {"enabled": false}}},
  {"name": "uniform", "type": "uniform"}
]}
EOF
echo "ope-truth: evaluating offline on the baseline's log" >&2
"$BIN" evaluate --data "$OUT/baseline/store" --config "$OUT/baseline.yaml" --spec "$OUT/spec.json" --json "$OUT/offline.json" >"$OUT/offline.txt"

run alpha1 8192
run threshold15 8193
run noretention 8194
for name in baseline alpha1 threshold15 noretention; do
	"$BIN" evaluate --data "$OUT/$name/store" --config "$OUT/$name.yaml" --policy '{"type": "logged"}' --bootstrap 0 --json "$OUT/$name-online.json" >/dev/null
done

# The comparison: every estimator's offline estimate against the online run's observed mean.
echo "| policy | reward | online (NBA arm, observed) | estimator | offline estimate | z | ESS | max weight | warnings |"
echo "|---|---|---|---|---|---|---|---|---|"
for pair in "logged:baseline" "alpha 1:alpha1" "threshold 15:threshold15" "no retention:noretention" "uniform:"; do
	policy=${pair%%:*} online=${pair#*:} onfile=/dev/null
	[ -z "$online" ] || onfile=$OUT/$online-online.json
	for reward in response net_value; do
		jq -r --arg p "$policy" --arg r "$reward" --slurpfile on "$onfile" '
			def f: if . == null then "—" else (. * 100000 | round / 100000 | tostring) end;
			($on[0].policies[0][$r].logged // null) as $o
			| .policies[] | select(.name == $p) | .[$r] as $e
			| $e.weights as $w
			| (if $p == "logged" then ["observed", "dr", "snips", "ips", "dm"] else ["dr", "snips", "ips", "dm"] end)[] as $m
			| ([$e.logged] + $e.estimates)[] | select(.method == $m)
			| "| \($p) | \($r) | \(if $o then "\($o.value | f) ± \($o.se | f)" else "not run" end) | \(.method) | \(.value | f) ± \(.se | f) | \(if $o then ((.value - $o.value) / ((.se * .se + $o.se * $o.se) | sqrt) * 100 | round / 100 | if . == 0 then 0 else . end | tostring) else "—" end) | \($w.ess | round) | \($w.max_weight * 10 | round / 10) | \([$e.warnings[].kind] | join(", ")) |"
		' "$OUT/offline.json"
	done
done
