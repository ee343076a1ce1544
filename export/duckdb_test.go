package export

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nextbest/nextbest/internal/duckdbtest"
)

// TestDuckDB: DuckDB, a reader other than the writer, opens an export and reads in it
// what the decisions hold: every row's id, time, action, selection probability, reward,
// no-action probability, candidates (count, propensities, model sequences), features,
// outcomes and a context field; and an inverse propensity weighted estimate written in
// SQL over the file equals the one computed from the decisions.
func TestDuckDB(t *testing.T) {
	log := testDecisions(300, 6)
	file := filepath.Join(t.TempDir(), "decisions.parquet")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Write(context.Background(), log, f, Options{Format: Parquet, RowGroup: 128}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	res := duckdbtest.Query(t, file,
		`SELECT decision_id, epoch_us(time) AS t, action, probability, reward, no_action_probability, len(candidates) AS n,
		        list_transform(candidates, c -> c.propensity) AS propensities, list_transform(candidates, c -> c.model_seq) AS seqs,
		        features.index AS fi, features.value AS fv, len(outcomes) AS outcomes, json_extract_string(context, '$.str_01') AS str_01
		 FROM FILE ORDER BY time`,
		// IPS of "always offer-0" over the answered decisions, as a data scientist would write it.
		`SELECT sum(CASE WHEN action = 'offer-0' THEN reward / probability ELSE 0 END) / count(*) AS ips FROM FILE WHERE reward IS NOT NULL`)
	rows := res[0]
	if len(rows) != len(log) {
		t.Fatalf("DuckDB read %d rows of %d", len(rows), len(log))
	}
	str := func(v any) string { return fmt.Sprint(v) }
	for i, got := range rows {
		want := RowOf(log[i])
		wantProb, wantReward := "<nil>", "<nil>"
		if want.Probability != nil {
			wantProb = fmt.Sprint(*want.Probability)
		}
		if want.Reward != nil {
			wantReward = fmt.Sprint(*want.Reward)
		}
		var props, seqs []string
		for _, c := range want.Candidates {
			props = append(props, fmt.Sprint(c.Propensity))
			seqs = append(seqs, fmt.Sprint(c.ModelSeq))
		}
		checks := []struct{ name, got, want string }{
			{"decision_id", str(got["decision_id"]), want.DecisionID},
			{"time", str(got["t"]), fmt.Sprint(want.Time.UnixMicro())},
			{"action", str(got["action"]), map[bool]string{true: "<nil>", false: want.Action}[want.Action == ""]},
			{"probability", str(got["probability"]), wantProb},
			{"reward", str(got["reward"]), wantReward},
			{"no_action_probability", str(got["no_action_probability"]), fmt.Sprint(want.NoActionProbability)},
			{"candidates", str(got["n"]), fmt.Sprint(len(want.Candidates))},
			{"propensities", str(got["propensities"]), "[" + strings.Join(props, " ") + "]"},
			{"model_seqs", str(got["seqs"]), "[" + strings.Join(seqs, " ") + "]"},
			{"feature indexes", str(got["fi"]), fmt.Sprint(want.Features.Index)},
			{"feature values", str(got["fv"]), fmt.Sprint(want.Features.Value)},
			{"outcomes", str(got["outcomes"]), fmt.Sprint(len(want.Outcomes))},
			{"context", str(got["str_01"]), "alpha"},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Fatalf("row %d %s: DuckDB read %s, the decision holds %s", i, c.name, c.got, c.want)
			}
		}
	}
	var sum float64
	n := 0
	for _, d := range log {
		r := RowOf(d)
		if r.Reward == nil {
			continue
		}
		n++
		if r.Action == "offer-0" {
			sum += *r.Reward / *r.Probability
		}
	}
	got, err := res[1][0]["ips"].(json.Number).Float64()
	// Summation order differs between DuckDB and this loop: 1e-12 relative.
	if want := sum / float64(n); err != nil || math.Abs(got-want) > 1e-12*math.Abs(want) || want == 0 {
		t.Errorf("IPS of always offer-0: DuckDB %v (%v), Go %v", got, err, want)
	}
}
