package experiments

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestAnalysisJSON(t *testing.T) {
	// Arm u has rows and weight 0, so χ² is +Inf. The NPS control (ratings
	// 7 and 8, two passives) is 0, so t's relative lift is NaN. Arm v has
	// a weight and no rows, so its comparisons are NaN.
	csv := "arm,conv,nps\nc,1,7\nc,0,8\nt,1,10\nt,0,9\nu,1,1\n"
	a, err := Analyze(strings.NewReader(csv), AnalyzeOptions{
		ArmColumn: "arm", Control: "c",
		Metrics: []MetricSpec{{Column: "conv", Kind: Binary}, {Column: "nps", Kind: NPS, Name: "NPS", LowerIsBetter: true}},
		Weights: map[string]float64{"c": 1, "t": 1, "u": 0, "v": 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{a, *a} { // the pointer and the value encode alike
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		srm := doc["srm"].(map[string]any)
		if srm["chi_sq"] != nil || srm["p_value"] != 0.0 || srm["mismatch"] != true {
			t.Errorf("srm %v, want chi_sq null, p 0, mismatch", srm)
		}
		arms := doc["arms"].([]any)
		if len(arms) != 4 || arms[3].(map[string]any)["name"] != "v" || arms[3].(map[string]any)["customers"] != 0.0 {
			t.Errorf("arms %v", arms)
		}
		nps := doc["metrics"].([]any)[1].(map[string]any)
		if m := nps["metric"].(map[string]any); m["column"] != "nps" || m["name"] != "NPS" || m["kind"] != "nps" || m["lower_is_better"] != true {
			t.Errorf("metric %v", m)
		}
		sums := nps["summaries"].([]any)
		if s := sums[1].(map[string]any); s["arm"] != "t" || s["n"] != 2.0 || s["sum"] != 200.0 || s["mean"] != 100.0 {
			t.Errorf("t's NPS summary %v, want 2 promoters", s)
		}
		if s := sums[3].(map[string]any); s["arm"] != "v" || s["n"] != 0.0 || s["mean"] != nil {
			t.Errorf("v's summary %v, want n 0, mean null", s)
		}
		cmp := nps["comparisons"].([]any)
		t0 := cmp[0].(map[string]any)
		if r := t0["result"].(map[string]any); t0["arm"] != "t" || r["rel_lift"] != nil || r["abs_lift"] != 100.0 {
			t.Errorf("t's NPS comparison %v, want lift 100 and a null relative lift", t0)
		}
		if v := cmp[2].(map[string]any); v["arm"] != "v" || v["holm_p"] != nil || v["holm_significant"] != false {
			t.Errorf("v's NPS comparison %v, want holm_p null", v)
		}
	}
	// SRMResult on its own encodes its tags, with +Inf as null.
	b, err := json.Marshal(SRMResult{ChiSq: math.Inf(1), DF: 1, Expected: []float64{1, 2}, Mismatch: true})
	if err != nil || string(b) != `{"chi_sq":null,"df":1,"p_value":0,"expected":[1,2],"mismatch":true}` {
		t.Errorf("SRMResult JSON %s, %v", b, err)
	}
}
