package features

import (
	"encoding/csv"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
)

// bankCSV is the UCI Bank Marketing data, relative to this package's directory.
const bankCSV = "../../shared/data/uci_bank_marketing/bank-full.csv"

// bankRows reads up to limit rows (all when limit < 0) of bank-full.csv into profiles
// and contexts as the engine would receive them: every column but the label y, in
// the source testdata/bank.yaml gives it, numbers as float64. duration, which the
// schema leaves out, is passed in the profile and must be reported as unknown.
func bankRows(t *testing.T, s *Schema, limit int) (profiles, contexts []map[string]any) {
	t.Helper()
	f, err := os.Open(bankCSV)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s not present", bankCSV)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = ';'
	header, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]Field{}
	for _, fd := range s.Fields {
		fields[fd.Name] = fd
	}
	for limit < 0 || len(profiles) < limit {
		row, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p, c := map[string]any{}, map[string]any{}
		for i, col := range header {
			fd, inSchema := fields[col]
			switch {
			case col == "y":
				continue
			case col == "duration":
				x, err := strconv.ParseFloat(row[i], 64)
				if err != nil {
					t.Fatalf("duration %q: %v", row[i], err)
				}
				p[col] = x
			case !inSchema:
				t.Fatalf("column %q is neither in the schema nor excluded", col)
			case fd.Kind == Numeric:
				x, err := strconv.ParseFloat(row[i], 64)
				if err != nil {
					t.Fatalf("%s %q: %v", col, row[i], err)
				}
				if fd.Source == SourceContext {
					c[col] = x
				} else {
					p[col] = x
				}
			case fd.Source == SourceContext:
				c[col] = row[i]
			default:
				p[col] = row[i]
			}
		}
		profiles, contexts = append(profiles, p), append(contexts, c)
	}
	return profiles, contexts
}

func parseBank(t *testing.T) *Schema {
	t.Helper()
	b, err := os.ReadFile("testdata/bank.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSchema(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBankSchema(t *testing.T) {
	s := parseBank(t)
	var names []string
	for _, f := range s.Fields {
		names = append(names, f.Name)
	}
	// The 16 input columns of bank-names.txt minus duration; never the label y.
	want := "age job marital education default balance housing loan contact day month campaign pdays previous poutcome"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("fields %q, want %q", got, want)
	}
	e, err := NewEncoder(s)
	if err != nil {
		t.Fatal(err)
	}
	// 1 intercept; age 2, job 14, marital 5, education 6, default 2, balance 9,
	// housing 2, loan 2, contact 5, day 7, month 14, campaign 2, pdays 6, previous 2,
	// poutcome 6; poutcome x pdays 6*6.
	if e.Dim() != 1+2+14+5+6+2+9+2+2+5+7+14+2+6+2+6+36 {
		t.Errorf("Dim %d", e.Dim())
	}
}

func TestBankFirst100Rows(t *testing.T) {
	s := parseBank(t)
	e, err := NewEncoder(s)
	if err != nil {
		t.Fatal(err)
	}
	profiles, contexts := bankRows(t, s, 100)
	if len(profiles) != 100 {
		t.Fatalf("read %d rows", len(profiles))
	}
	for i := range profiles {
		e.Observe(profiles[i], contexts[i])
	}
	var v Vector
	for i := range profiles {
		rep, err := e.Encode(profiles[i], contexts[i], &v)
		if err != nil {
			t.Fatalf("row %d: %v", i+1, err)
		}
		checkInvariants(t, e, v)
		if rep.Missing != 0 || rep.Unknown != 1 {
			t.Fatalf("row %d: report %+v, want only duration unknown", i+1, rep)
		}
	}
}

// TestBankVocabularies encodes every row and checks that no categorical value falls
// into an "other" slot, so the vocabularies cover the data.
func TestBankVocabularies(t *testing.T) {
	if testing.Short() {
		t.Skip("reads all 45,211 rows")
	}
	s := parseBank(t)
	e, err := NewEncoder(s)
	if err != nil {
		t.Fatal(err)
	}
	other := map[int32]string{}
	for i := 0; i < e.Dim(); i++ {
		if n := e.FeatureName(i); strings.HasSuffix(n, "=<other>") {
			other[int32(i)] = n
		}
	}
	if len(other) != 6 { // job, marital, education, contact, month, poutcome
		t.Fatalf("%d other slots: %v", len(other), other)
	}
	profiles, contexts := bankRows(t, s, -1)
	if len(profiles) != 45211 { // bank-names.txt: 45211 instances
		t.Fatalf("read %d rows", len(profiles))
	}
	var v Vector
	for i := range profiles {
		if _, err := e.Encode(profiles[i], contexts[i], &v); err != nil {
			t.Fatalf("row %d: %v", i+1, err)
		}
		for _, ix := range v.Index {
			if n, ok := other[ix]; ok {
				t.Fatalf("row %d: %s (profile %v, context %v)", i+1, n, profiles[i], contexts[i])
			}
		}
	}
}
