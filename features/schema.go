package features

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Source says where a field's value is looked up.
type Source string

// Sources. The zero value means SourceAny.
const (
	SourceAny     Source = "any"     // the context first; the profile when the context lacks it or has null
	SourceProfile Source = "profile" // the customer profile
	SourceContext Source = "context" // the request context
)

// Kind is a field's type.
type Kind string

// Kinds.
const (
	Numeric     Kind = "numeric"
	Categorical Kind = "categorical"
	Boolean     Kind = "boolean"
)

// Sizes that shape the encoding; Schema.Hash covers them.
const (
	DefaultHashBuckets  = 32  // HashBuckets of a categorical field with neither Vocabulary nor HashBuckets
	InteractionBuckets  = 64  // size of a hashed interaction block
	MaxExactInteraction = 256 // largest size(a)*size(b) encoded exactly rather than hashed
)

// Limits that Validate enforces.
const (
	MaxFields      = 4096    // fields per schema
	MaxBuckets     = 4096    // bucket boundaries per field
	MaxVocabulary  = 1 << 16 // vocabulary entries per field
	MaxHashBuckets = 1 << 20 // HashBuckets per field
	MaxDim         = 1 << 26 // dimensions per schema
)

// Field declares one input and how it is encoded. See the package documentation for
// the block each kind occupies and the order of the numeric transforms.
type Field struct {
	// Name is the key looked up in the source map. When the key is absent and Name
	// contains dots, it is looked up as a path into nested objects:
	// "address.city" finds profile["address"]["city"].
	Name   string `json:"name" yaml:"name"`
	Source Source `json:"source,omitempty" yaml:"source,omitempty"` // default SourceAny
	Kind   Kind   `json:"type" yaml:"type"`

	// Numeric transforms, applied in this order: Clip, Log1p, then Buckets or
	// Standardize (not both).
	Clip        *[2]float64 `json:"clip,omitempty" yaml:"clip,omitempty"`               // [min, max], min < max
	Log1p       bool        `json:"log1p,omitempty" yaml:"log1p,omitempty"`             // x = ln(1+x); needs x > -1
	Buckets     []float64   `json:"buckets,omitempty" yaml:"buckets,omitempty"`         // strictly increasing boundaries; one-hot over len+1 slots
	Standardize bool        `json:"standardize,omitempty" yaml:"standardize,omitempty"` // online z-score

	// Categorical encodings: Vocabulary for one-hot plus an "other" slot, or
	// HashBuckets for the hashing trick (default DefaultHashBuckets).
	Vocabulary  []string `json:"vocabulary,omitempty" yaml:"vocabulary,omitempty"`
	HashBuckets int      `json:"hash_buckets,omitempty" yaml:"hash_buckets,omitempty"`
}

// Schema is the list of fields and pairwise interactions an Encoder encodes.
type Schema struct {
	Fields []Field `json:"fields" yaml:"fields"`
	// Interactions lists pairs of field names whose encodings are multiplied; see
	// the package documentation.
	Interactions [][2]string `json:"interactions,omitempty" yaml:"interactions,omitempty"`
}

// Validate checks s. Errors wrap ErrSchema and, when they concern a field, are
// *FieldError values naming it.
func (s *Schema) Validate() error { return s.validate(nil) }

// schemaLines holds the source lines of a parsed schema, for error messages.
type schemaLines struct {
	fields       []int
	interactions []int
}

func (l *schemaLines) field(i int) int {
	if l == nil || i >= len(l.fields) {
		return 0
	}
	return l.fields[i]
}

func (l *schemaLines) interaction(i int) int {
	if l == nil || i >= len(l.interactions) {
		return 0
	}
	return l.interactions[i]
}

func (s *Schema) validate(lines *schemaLines) error {
	if len(s.Fields) == 0 {
		return schemaError("", 0, "no fields")
	}
	if len(s.Fields) > MaxFields {
		return schemaError("", 0, "%d fields, more than %d", len(s.Fields), MaxFields)
	}
	sizes := make(map[string]int, len(s.Fields))
	dim := 1
	for i := range s.Fields {
		f := &s.Fields[i]
		line := lines.field(i)
		if f.Name == "" {
			return schemaError(fmt.Sprintf("#%d", i+1), line, "name is required")
		}
		if _, dup := sizes[f.Name]; dup {
			return schemaError(f.Name, line, "duplicate field name")
		}
		if err := f.validate(); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				fe.Line = line
			}
			return err
		}
		n := f.size()
		sizes[f.Name] = n
		dim += n
		if dim > MaxDim {
			return schemaError(f.Name, line, "schema needs more than %d dimensions", MaxDim)
		}
	}
	seen := make(map[[2]string]bool, len(s.Interactions))
	for i, p := range s.Interactions {
		line := lines.interaction(i)
		name := p[0] + " x " + p[1]
		for _, n := range p {
			if _, ok := sizes[n]; !ok {
				return schemaError(name, line, "interaction names unknown field %q", n)
			}
		}
		if p[0] == p[1] {
			return schemaError(name, line, "interaction of a field with itself")
		}
		if seen[p] || seen[[2]string{p[1], p[0]}] {
			return schemaError(name, line, "duplicate interaction")
		}
		seen[p] = true
		dim += interactionSize(sizes[p[0]], sizes[p[1]])
		if dim > MaxDim {
			return schemaError(name, line, "schema needs more than %d dimensions", MaxDim)
		}
	}
	return nil
}

// validate checks one field on its own; errors are *FieldError.
func (f *Field) validate() error {
	switch f.Source {
	case "", SourceAny, SourceProfile, SourceContext:
	default:
		return schemaError(f.Name, 0, "unknown source %q (want profile, context or any)", string(f.Source))
	}
	bad := func(option string) error {
		return schemaError(f.Name, 0, "%s applies only to %s fields, not %s", option, kindFor(option), f.Kind)
	}
	switch f.Kind {
	case Numeric:
		if len(f.Vocabulary) > 0 {
			return bad("vocabulary")
		}
		if f.HashBuckets != 0 {
			return bad("hash_buckets")
		}
		if c := f.Clip; c != nil {
			if !finite(c[0]) || !finite(c[1]) || !(c[0] < c[1]) {
				return schemaError(f.Name, 0, "clip [%g, %g] must be finite with min < max", c[0], c[1])
			}
			if f.Log1p && c[0] <= -1 {
				return schemaError(f.Name, 0, "log1p needs clip min > -1, got %g", c[0])
			}
		}
		if len(f.Buckets) > MaxBuckets {
			return schemaError(f.Name, 0, "%d buckets, more than %d", len(f.Buckets), MaxBuckets)
		}
		for i, b := range f.Buckets {
			if !finite(b) {
				return schemaError(f.Name, 0, "bucket boundary %g is not finite", b)
			}
			if i > 0 && !(f.Buckets[i-1] < b) {
				return schemaError(f.Name, 0, "buckets must be strictly increasing: %g after %g", b, f.Buckets[i-1])
			}
		}
		if len(f.Buckets) > 0 && f.Standardize {
			return schemaError(f.Name, 0, "standardize and buckets cannot both be set")
		}
	case Categorical:
		switch {
		case f.Clip != nil:
			return bad("clip")
		case f.Log1p:
			return bad("log1p")
		case len(f.Buckets) > 0:
			return bad("buckets")
		case f.Standardize:
			return bad("standardize")
		case f.HashBuckets < 0 || f.HashBuckets > MaxHashBuckets:
			return schemaError(f.Name, 0, "hash_buckets %d outside [1, %d]", f.HashBuckets, MaxHashBuckets)
		case f.HashBuckets > 0 && len(f.Vocabulary) > 0:
			return schemaError(f.Name, 0, "vocabulary and hash_buckets cannot both be set")
		case len(f.Vocabulary) > MaxVocabulary:
			return schemaError(f.Name, 0, "vocabulary of %d values, more than %d", len(f.Vocabulary), MaxVocabulary)
		}
		seen := make(map[string]bool, len(f.Vocabulary))
		for _, v := range f.Vocabulary {
			if seen[v] {
				return schemaError(f.Name, 0, "duplicate vocabulary value %q", v)
			}
			seen[v] = true
		}
	case Boolean:
		switch {
		case f.Clip != nil:
			return bad("clip")
		case f.Log1p:
			return bad("log1p")
		case len(f.Buckets) > 0:
			return bad("buckets")
		case f.Standardize:
			return bad("standardize")
		case len(f.Vocabulary) > 0:
			return bad("vocabulary")
		case f.HashBuckets != 0:
			return bad("hash_buckets")
		}
	case "":
		return schemaError(f.Name, 0, "type is required (numeric, categorical or boolean)")
	default:
		return schemaError(f.Name, 0, "unknown type %q (want numeric, categorical or boolean)", string(f.Kind))
	}
	return nil
}

func kindFor(option string) Kind {
	switch option {
	case "vocabulary", "hash_buckets":
		return Categorical
	}
	return Numeric
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// source is f's source with the default applied.
func (f *Field) source() Source {
	if f.Source == "" {
		return SourceAny
	}
	return f.Source
}

// hashBuckets is f's hash bucket count with the default applied; 0 when f uses a
// vocabulary or is not categorical.
func (f *Field) hashBuckets() int {
	if f.Kind != Categorical || len(f.Vocabulary) > 0 {
		return 0
	}
	if f.HashBuckets == 0 {
		return DefaultHashBuckets
	}
	return f.HashBuckets
}

// size is the number of dimensions of f's block, missing slot included.
func (f *Field) size() int {
	switch f.Kind {
	case Numeric:
		if len(f.Buckets) > 0 {
			return len(f.Buckets) + 2
		}
		return 2
	case Categorical:
		if len(f.Vocabulary) > 0 {
			return len(f.Vocabulary) + 2
		}
		return f.hashBuckets() + 1
	default:
		return 2
	}
}

// interactionSize is the block size of an interaction of blocks of sizes a and b.
func interactionSize(a, b int) int {
	if a*b <= MaxExactInteraction {
		return a * b
	}
	return InteractionBuckets
}

// Hash returns the hex SHA-256 of the canonical form of s: everything that decides
// which dimension a value lands in and with what value, with defaults filled in, and
// the package constants that shape the encoding. Schemas that encode identically have
// the same hash whether they were written in YAML or JSON; any change to a field,
// its order, a vocabulary's order or an interaction changes it.
func (s *Schema) Hash() string {
	type field struct {
		Name        string   `json:"name"`
		Source      Source   `json:"source"`
		Kind        Kind     `json:"type"`
		Clip        []string `json:"clip"`
		Log1p       bool     `json:"log1p"`
		Buckets     []string `json:"buckets"`
		Standardize bool     `json:"standardize"`
		Vocabulary  []string `json:"vocabulary"`
		HashBuckets int      `json:"hash_buckets"`
	}
	c := struct {
		Format              string      `json:"format"`
		DefaultHashBuckets  int         `json:"default_hash_buckets"`
		InteractionBuckets  int         `json:"interaction_buckets"`
		MaxExactInteraction int         `json:"max_exact_interaction"`
		MinObservations     int         `json:"min_observations"`
		Fields              []field     `json:"fields"`
		Interactions        [][2]string `json:"interactions"`
	}{
		Format:              "nextbest/features schema v1",
		DefaultHashBuckets:  DefaultHashBuckets,
		InteractionBuckets:  InteractionBuckets,
		MaxExactInteraction: MaxExactInteraction,
		MinObservations:     MinObservations,
		Fields:              make([]field, len(s.Fields)),
		Interactions:        s.Interactions,
	}
	for i := range s.Fields {
		f := &s.Fields[i]
		cf := field{
			Name:        f.Name,
			Source:      f.source(),
			Kind:        f.Kind,
			Log1p:       f.Log1p,
			Standardize: f.Standardize,
			HashBuckets: f.hashBuckets(),
		}
		if f.Clip != nil {
			cf.Clip = []string{canonicalFloat(f.Clip[0]), canonicalFloat(f.Clip[1])}
		}
		for _, b := range f.Buckets {
			cf.Buckets = append(cf.Buckets, canonicalFloat(b))
		}
		if len(f.Vocabulary) > 0 {
			cf.Vocabulary = f.Vocabulary
		}
		c.Fields[i] = cf
	}
	if len(c.Interactions) == 0 {
		c.Interactions = nil
	}
	b, _ := json.Marshal(c) // cannot fail: only strings, ints, bools and slices of them
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// canonicalFloat spells x for hashing: shortest round-trip form, -0 as 0.
func canonicalFloat(x float64) string {
	if x == 0 {
		x = 0
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}
