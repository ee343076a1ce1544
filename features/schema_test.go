package features

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const yamlSchema = `
# comment
fields:
  - name: tenure
    source: profile
    type: numeric
    clip: [0, 3650]
    log1p: true
    standardize: true
  - name: channel
    source: context
    type: categorical
    vocabulary: [web, app]
  - name: city
    type: categorical
  - name: balance
    type: numeric
    buckets: [-0.0, 100, 1e3]
  - name: vip
    type: boolean
interactions:
  - [channel, vip]
`

// jsonSchema says the same as yamlSchema, with the defaults (source any,
// hash_buckets 32) spelt out and numbers written differently.
const jsonSchema = `{
	"fields": [
		{"name": "tenure", "source": "profile", "type": "numeric", "clip": [0.0, 3.65e3], "log1p": true, "standardize": true},
		{"name": "channel", "source": "context", "type": "categorical", "vocabulary": ["web", "app"]},
		{"name": "city", "source": "any", "type": "categorical", "hash_buckets": 32},
		{"name": "balance", "type": "numeric", "buckets": [0, 100, 1000], "standardize": false},
		{"name": "vip", "type": "boolean"}
	],
	"interactions": [["channel", "vip"]]
}`

func TestParseSchemaYAMLAndJSON(t *testing.T) {
	y, err := ParseSchema([]byte(yamlSchema))
	if err != nil {
		t.Fatal(err)
	}
	j, err := ParseSchema([]byte(jsonSchema))
	if err != nil {
		t.Fatal(err)
	}
	want := &Schema{
		Fields: []Field{
			{Name: "tenure", Source: SourceProfile, Kind: Numeric, Clip: &[2]float64{0, 3650}, Log1p: true, Standardize: true},
			{Name: "channel", Source: SourceContext, Kind: Categorical, Vocabulary: []string{"web", "app"}},
			{Name: "city", Kind: Categorical},
			{Name: "balance", Kind: Numeric, Buckets: []float64{0, 100, 1000}},
			{Name: "vip", Kind: Boolean},
		},
		Interactions: [][2]string{{"channel", "vip"}},
	}
	if !reflect.DeepEqual(y, want) {
		t.Errorf("YAML parsed to %+v", y)
	}
	if y.Hash() != j.Hash() {
		t.Errorf("YAML hash %s != JSON hash %s", y.Hash(), j.Hash())
	}
	if len(y.Hash()) != 64 {
		t.Errorf("hash %q is not hex SHA-256", y.Hash())
	}
	ey, _ := NewEncoder(y)
	ej, _ := NewEncoder(j)
	if ey.SchemaHash() != y.Hash() || ej.SchemaHash() != y.Hash() || ey.Dim() != ej.Dim() {
		t.Errorf("encoders differ: %s/%d vs %s/%d", ey.SchemaHash(), ey.Dim(), ej.SchemaHash(), ej.Dim())
	}
}

func TestParseSchemaJSONEscapes(t *testing.T) {
	// "\/" is valid JSON that YAML parsers reject; it must go through encoding/json.
	s, err := ParseSchema([]byte(`{"fields": [{"name": "a\/b\u00e9", "type": "boolean"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Fields[0].Name != "a/bé" {
		t.Errorf("name %q", s.Fields[0].Name)
	}
	// YAML flow style starting with '{' is not JSON but is still accepted.
	if _, err := ParseSchema([]byte(`{fields: [{name: a, type: boolean}]}`)); err != nil {
		t.Errorf("YAML flow: %v", err)
	}
}

func TestSchemaMarshalRoundTrip(t *testing.T) {
	// A Schema written out with encoding/json or yaml.v3 parses back to the same schema.
	s, err := ParseSchema([]byte(yamlSchema))
	if err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	y, err := yaml.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{j, y} {
		back, err := ParseSchema(b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(back, s) || back.Hash() != s.Hash() {
			t.Errorf("round trip through\n%s\ngave %+v", b, back)
		}
	}
}

func TestHashChanges(t *testing.T) {
	base, err := ParseSchema([]byte(yamlSchema))
	if err != nil {
		t.Fatal(err)
	}
	h := base.Hash()
	if h != base.Hash() {
		t.Fatal("Hash not deterministic")
	}
	changes := map[string]func(s *Schema){
		"rename field":          func(s *Schema) { s.Fields[0].Name = "tenure2" },
		"change source":         func(s *Schema) { s.Fields[0].Source = SourceAny },
		"drop standardize":      func(s *Schema) { s.Fields[0].Standardize = false },
		"drop log1p":            func(s *Schema) { s.Fields[0].Log1p = false },
		"change clip":           func(s *Schema) { s.Fields[0].Clip[1] = 3651 },
		"drop clip":             func(s *Schema) { s.Fields[0].Clip = nil },
		"reorder vocabulary":    func(s *Schema) { s.Fields[1].Vocabulary = []string{"app", "web"} },
		"extend vocabulary":     func(s *Schema) { s.Fields[1].Vocabulary = append(s.Fields[1].Vocabulary, "sms") },
		"hash buckets":          func(s *Schema) { s.Fields[2].HashBuckets = 64 },
		"change bucket":         func(s *Schema) { s.Fields[3].Buckets[2] = 1001 },
		"change kind":           func(s *Schema) { s.Fields[4].Kind = Categorical },
		"reorder fields":        func(s *Schema) { s.Fields[0], s.Fields[1] = s.Fields[1], s.Fields[0] },
		"drop interaction":      func(s *Schema) { s.Interactions = nil },
		"swap interaction pair": func(s *Schema) { s.Interactions[0] = [2]string{"vip", "channel"} },
	}
	for name, change := range changes {
		s, _ := ParseSchema([]byte(yamlSchema))
		change(s)
		if s.Hash() == h {
			t.Errorf("%s: hash unchanged", name)
		}
	}
	// Spelling defaults out does not change the hash.
	s, _ := ParseSchema([]byte(yamlSchema))
	s.Fields[2].Source, s.Fields[2].HashBuckets = SourceAny, DefaultHashBuckets
	s.Interactions = append([][2]string{}, s.Interactions...)
	if s.Hash() != h {
		t.Error("explicit defaults changed the hash")
	}
}

func TestSchemaErrors(t *testing.T) {
	tests := []struct {
		name   string
		schema string
		msg    string // the whole error message
	}{
		{"empty", "", `invalid schema: empty document`},
		{"no fields", "fields: []", `invalid schema: no fields`},
		{"not a mapping", "- a\n- b", `invalid schema: line 1: want a mapping with the key fields, got sequence`},
		{"unknown top-level key", "feilds: []", `invalid schema: line 1: unknown key "feilds" (want fields, interactions)`},
		{"unknown field key", "fields:\n  - name: age\n    type: numeric\n    colour: red\n",
			`invalid schema: line 4: field "age": unknown key "colour"`},
		{"unknown field key before name", "fields:\n  - colour: red\n    name: age\n    type: numeric\n",
			`invalid schema: line 2: field "age": unknown key "colour"`},
		{"unknown key JSON", `{"fields": [{"name": "age", "type": "numeric", "standardise": true}]}`,
			`invalid schema: line 1: field "age": unknown key "standardise"`},
		{"repeated key", "fields:\n  - name: age\n    type: numeric\n    type: boolean\n",
			`invalid schema: line 4: field "age": key "type" repeated`},
		{"repeated key JSON", `{"fields": [{"name": "age", "type": "numeric", "type": "boolean"}]}`,
			`invalid schema: line 1: field "age": key "type" repeated`},
		{"duplicate names", "fields:\n  - {name: age, type: numeric}\n  - {name: age, type: boolean}\n",
			`invalid schema: line 3: field "age": duplicate field name`},
		{"missing name", "fields:\n  - {name: a, type: numeric}\n  - {type: numeric}\n",
			`invalid schema: line 3: field "#2": name is required`},
		{"unknown kind", "fields:\n  - {name: age, type: integer}\n",
			`invalid schema: line 2: field "age": unknown type "integer" (want numeric, categorical or boolean)`},
		{"missing kind", "fields:\n  - {name: age}\n",
			`invalid schema: line 2: field "age": type is required (numeric, categorical or boolean)`},
		{"unknown source", "fields:\n  - {name: age, type: numeric, source: cookie}\n",
			`invalid schema: line 2: field "age": unknown source "cookie" (want profile, context or any)`},
		{"buckets not increasing", "fields:\n  - {name: age, type: numeric, buckets: [10, 30, 20]}\n",
			`invalid schema: line 2: field "age": buckets must be strictly increasing: 20 after 30`},
		{"buckets repeated", "fields:\n  - {name: age, type: numeric, buckets: [10, 10]}\n",
			`invalid schema: line 2: field "age": buckets must be strictly increasing: 10 after 10`},
		{"bucket infinite", "fields:\n  - {name: age, type: numeric, buckets: [1, .inf]}\n",
			`invalid schema: line 2: field "age": bucket boundary +Inf is not finite`},
		{"bucket not a number", "fields:\n  - {name: age, type: numeric, buckets: [1, ten]}\n",
			`invalid schema: line 2: field "age": buckets: want numbers, got string`},
		{"buckets and standardize", "fields:\n  - {name: age, type: numeric, buckets: [1], standardize: true}\n",
			`invalid schema: line 2: field "age": standardize and buckets cannot both be set`},
		{"clip reversed", "fields:\n  - {name: age, type: numeric, clip: [10, 0]}\n",
			`invalid schema: line 2: field "age": clip [10, 0] must be finite with min < max`},
		{"clip one number", "fields:\n  - {name: age, type: numeric, clip: [10]}\n",
			`invalid schema: line 2: field "age": clip: want [min, max]`},
		{"log1p clip domain", "fields:\n  - {name: age, type: numeric, clip: [-1, 10], log1p: true}\n",
			`invalid schema: line 2: field "age": log1p needs clip min > -1, got -1`},
		{"standardize on categorical", "fields:\n  - {name: city, type: categorical, standardize: true}\n",
			`invalid schema: line 2: field "city": standardize applies only to numeric fields, not categorical`},
		{"vocabulary on numeric", "fields:\n  - {name: age, type: numeric, vocabulary: [a]}\n",
			`invalid schema: line 2: field "age": vocabulary applies only to categorical fields, not numeric`},
		{"vocabulary on boolean", "fields:\n  - {name: vip, type: boolean, vocabulary: [a]}\n",
			`invalid schema: line 2: field "vip": vocabulary applies only to categorical fields, not boolean`},
		{"vocabulary and hash_buckets", "fields:\n  - {name: city, type: categorical, vocabulary: [a], hash_buckets: 8}\n",
			`invalid schema: line 2: field "city": vocabulary and hash_buckets cannot both be set`},
		{"duplicate vocabulary", "fields:\n  - {name: city, type: categorical, vocabulary: [a, b, a]}\n",
			`invalid schema: line 2: field "city": duplicate vocabulary value "a"`},
		{"vocabulary of booleans", "fields:\n  - {name: city, type: categorical, vocabulary: [true]}\n",
			`invalid schema: line 2: field "city": vocabulary: want strings, got boolean (quote it)`},
		{"hash_buckets zero", "fields:\n  - {name: city, type: categorical, hash_buckets: 0}\n",
			`invalid schema: line 2: field "city": hash_buckets: want an integer in [1, 1048576]`},
		{"hash_buckets fraction", "fields:\n  - {name: city, type: categorical, hash_buckets: 2.5}\n",
			`invalid schema: line 2: field "city": hash_buckets: want an integer in [1, 1048576]`},
		{"standardize not a bool", "fields:\n  - {name: age, type: numeric, standardize: 1}\n",
			`invalid schema: line 2: field "age": standardize: want true or false, got number`},
		{"name not a string", "fields:\n  - {name: [a], type: numeric}\n",
			`invalid schema: line 2: field "#1": name: want a string, got sequence`},
		{"interaction unknown field", "fields: [{name: a, type: boolean}]\ninteractions: [[a, b]]\n",
			`invalid schema: line 2: field "a x b": interaction names unknown field "b"`},
		{"interaction with itself", "fields: [{name: a, type: boolean}]\ninteractions: [[a, a]]\n",
			`invalid schema: line 2: field "a x a": interaction of a field with itself`},
		{"duplicate interaction", "fields: [{name: a, type: boolean}, {name: b, type: boolean}]\ninteractions: [[a, b], [b, a]]\n",
			`invalid schema: line 2: field "b x a": duplicate interaction`},
		{"interaction not a pair", "fields: [{name: a, type: boolean}]\ninteractions: [[a]]\n",
			`invalid schema: line 2: interactions: want a pair of field names such as [age, job]`},
		{"two YAML documents", "fields: [{name: a, type: boolean}]\n---\nfields: []\n",
			`invalid schema: line 2: more than one YAML document`},
		{"JSON trailing data", `{"fields": [{"name": "a", "type": "boolean"}]} {}`,
			`invalid schema: line 1: data after the JSON document`},
		{"YAML syntax", "fields: [\n", "invalid schema: yaml: line 1: did not find expected node content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSchema([]byte(tt.schema))
			if !errors.Is(err, ErrSchema) {
				t.Fatalf("err = %v, want ErrSchema", err)
			}
			if err.Error() != tt.msg {
				t.Errorf("message\n%s\nwant\n%s", err.Error(), tt.msg)
			}
		})
	}
}

func TestValidateGoSchema(t *testing.T) {
	// A schema built in Go is validated by NewEncoder, with field names but no lines.
	_, err := NewEncoder(&Schema{Fields: []Field{{Name: "n", Kind: Categorical, HashBuckets: -1}}})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "n" || fe.Line != 0 || !errors.Is(err, ErrSchema) {
		t.Fatalf("err = %#v", err)
	}
	if _, err := NewEncoder(nil); !errors.Is(err, ErrSchema) {
		t.Fatalf("nil schema: %v", err)
	}
	// The encoder copies the schema: later changes do not reach it.
	s := &Schema{Fields: []Field{{Name: "c", Kind: Categorical, Vocabulary: []string{"a", "b"}}}}
	e, err := NewEncoder(s)
	if err != nil {
		t.Fatal(err)
	}
	s.Fields[0].Vocabulary[0] = "z"
	if got := e.FeatureName(1); got != "c=a" {
		t.Errorf("FeatureName(1) = %q after changing the schema", got)
	}
}

func TestParseSchemaLimits(t *testing.T) {
	deep := strings.Repeat("[", 200) + strings.Repeat("]", 200)
	for _, doc := range []string{"fields: " + deep, `{"fields": ` + deep + `}`} {
		if _, err := ParseSchema([]byte(doc)); !errors.Is(err, ErrSchema) {
			t.Errorf("deep nesting: %v", err)
		}
	}
	// YAML aliases that expand exponentially are cut off.
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x]\n")
	for i := 1; i < 40; i++ {
		b.WriteString("a" + itoa(i) + ": &a" + itoa(i) + " [*a" + itoa(i-1) + ", *a" + itoa(i-1) + "]\n")
	}
	if _, err := ParseSchema([]byte(b.String())); !errors.Is(err, ErrSchema) {
		t.Errorf("alias bomb: %v", err)
	}
}

func itoa(i int) string { return string(rune('0'+i/10)) + string(rune('0'+i%10)) }

func TestBenchSchemaParses(t *testing.T) {
	b, err := os.ReadFile("testdata/bench.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSchema(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Fields) != 30 || len(s.Interactions) != 2 {
		t.Errorf("%d fields, %d interactions; the benchmark promises 30 and 2", len(s.Fields), len(s.Interactions))
	}
}
