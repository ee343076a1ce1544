package experiments

import "encoding/json"

// The JSON form of an Analysis, for reports and other tools. Arms are
// named in every per-arm entry, so a reader need not zip parallel arrays.
type (
	analysisJSON struct {
		Level   jsonFloat    `json:"level"`
		Tuning  jsonFloat    `json:"tuning"`
		Control string       `json:"control"`
		Arms    []armJSON    `json:"arms"`
		Family  int          `json:"family"`
		SRM     *SRMResult   `json:"srm"`
		Metrics []metricJSON `json:"metrics"`
	}
	armJSON struct {
		Name      string `json:"name"`
		Customers int    `json:"customers"`
	}
	metricJSON struct {
		Metric      MetricSpec          `json:"metric"`
		Summaries   []summaryJSON       `json:"summaries"`
		Comparisons []comparisonArmJSON `json:"comparisons"`
	}
	summaryJSON struct {
		Arm   string    `json:"arm"`
		N     int       `json:"n"`
		Sum   jsonFloat `json:"sum"`
		SumSq jsonFloat `json:"sum_sq"`
		Mean  jsonFloat `json:"mean"`
	}
	comparisonArmJSON struct {
		Arm             string     `json:"arm"`
		Result          Comparison `json:"result"`
		HolmP           jsonFloat  `json:"holm_p"`
		HolmSignificant bool       `json:"holm_significant"`
	}
	srmJSON struct {
		ChiSq    jsonFloat   `json:"chi_sq"`
		DF       int         `json:"df"`
		PValue   jsonFloat   `json:"p_value"`
		Expected []jsonFloat `json:"expected"`
		Mismatch bool        `json:"mismatch"`
	}
)

// MarshalJSON encodes the analysis with snake_case keys, writing
// non-finite numbers (an undefined lift, a NaN Holm p-value) as null:
//
//	{"level", "tuning", "control",
//	 "arms": [{"name", "customers"}], "family", "srm": null or SRMResult,
//	 "metrics": [{"metric": MetricSpec,
//	              "summaries": [{"arm", "n", "sum", "sum_sq", "mean"}],
//	              "comparisons": [{"arm", "result": Comparison,
//	                               "holm_p", "holm_significant"}]}]}
//
// Arms, summaries and comparisons are in the order of Analysis.Arms.
func (a Analysis) MarshalJSON() ([]byte, error) {
	j := analysisJSON{
		Level: jsonFloat(a.Level), Tuning: jsonFloat(a.Tuning), Control: a.Control,
		Arms: make([]armJSON, len(a.Arms)), Family: a.Family, SRM: a.SRM,
		Metrics: make([]metricJSON, len(a.Metrics)),
	}
	for i, name := range a.Arms {
		j.Arms[i] = armJSON{Name: name}
		if i < len(a.Customers) {
			j.Arms[i].Customers = a.Customers[i]
		}
	}
	for m, mr := range a.Metrics {
		mj := metricJSON{
			Metric:      mr.Metric,
			Summaries:   make([]summaryJSON, len(mr.Summaries)),
			Comparisons: make([]comparisonArmJSON, len(mr.Comparisons)),
		}
		for i, s := range mr.Summaries {
			arm := ""
			if i < len(a.Arms) {
				arm = a.Arms[i]
			}
			mj.Summaries[i] = summaryJSON{Arm: arm, N: s.N, Sum: jsonFloat(s.Sum), SumSq: jsonFloat(s.SumSq), Mean: jsonFloat(s.Mean())}
		}
		for i, c := range mr.Comparisons {
			mj.Comparisons[i] = comparisonArmJSON{Arm: c.Arm, Result: c.Result, HolmP: jsonFloat(c.HolmP), HolmSignificant: c.HolmSignificant}
		}
		j.Metrics[m] = mj
	}
	return json.Marshal(j)
}

// MarshalJSON encodes the result with the keys of its struct tags, writing
// a non-finite χ² (an arm with weight 0 that has customers) as null.
func (r SRMResult) MarshalJSON() ([]byte, error) {
	j := srmJSON{ChiSq: jsonFloat(r.ChiSq), DF: r.DF, PValue: jsonFloat(r.PValue), Mismatch: r.Mismatch}
	if r.Expected != nil {
		j.Expected = make([]jsonFloat, len(r.Expected))
		for i, e := range r.Expected {
			j.Expected[i] = jsonFloat(e)
		}
	}
	return json.Marshal(j)
}
