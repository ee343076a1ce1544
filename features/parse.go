package features

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"gopkg.in/yaml.v3"
)

// ParseSchema reads a schema from YAML or JSON and validates it. Input whose first
// non-space byte is '{' is read as JSON (falling back to YAML flow style if it is not
// valid JSON); anything else as YAML. Parsing is strict: an unknown or repeated key
// is an error naming the key and its field, and so is a value of the wrong type.
// Every error wraps ErrSchema.
//
// Keys: fields, interactions at the top; name, source, type, clip, log1p, buckets,
// standardize, vocabulary, hash_buckets in a field. Vocabulary entries written as
// numbers are spelt as the encoder spells numeric categorical values, so that
// vocabulary [1, 2.50] matches the inputs 1 and 2.5.
func ParseSchema(data []byte) (*Schema, error) {
	root, err := parseTree(data)
	if err != nil {
		return nil, err
	}
	s, lines, err := decodeSchema(root)
	if err != nil {
		return nil, err
	}
	if err := s.validate(lines); err != nil {
		return nil, err
	}
	return s, nil
}

// tkind is the kind of a tnode.
type tkind uint8

const (
	tNull tkind = iota
	tString
	tNumber
	tBool
	tMap
	tSeq
)

func (k tkind) String() string {
	return [...]string{"null", "string", "number", "boolean", "mapping", "sequence"}[k]
}

// tnode is a parsed YAML or JSON value: one tree shape for both, so that both are
// decoded by the same strict code.
type tnode struct {
	kind  tkind
	text  string  // string value, or a number's spelling
	num   float64 // number value
	b     bool    // boolean value
	keys  []string
	vals  []*tnode // mapping values, parallel to keys
	items []*tnode // sequence items
	line  int
}

// Parser limits: nesting depth, and nodes visited (YAML aliases can repeat a subtree).
const (
	maxTreeDepth = 64
	maxTreeNodes = 1 << 20
)

func parseTree(data []byte) (*tnode, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, schemaError("", 0, "empty document")
	}
	if trimmed[0] == '{' {
		root, jerr := parseJSON(data)
		if jerr == nil {
			return root, nil
		}
		if root, yerr := parseYAML(data); yerr == nil {
			return root, nil
		}
		return nil, jerr
	}
	return parseYAML(data)
}

func parseYAML(data []byte) (*tnode, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, schemaError("", 0, "empty document")
		}
		return nil, schemaError("", 0, "%v", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, schemaError("", extra.Line, "more than one YAML document")
	}
	budget := maxTreeNodes
	return fromYAML(&doc, 0, &budget)
}

func fromYAML(n *yaml.Node, depth int, budget *int) (*tnode, error) {
	if n == nil {
		return &tnode{kind: tNull}, nil
	}
	*budget--
	if depth > maxTreeDepth || *budget < 0 {
		return nil, schemaError("", n.Line, "document nested too deeply or too large")
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return &tnode{kind: tNull, line: n.Line}, nil
		}
		return fromYAML(n.Content[0], depth+1, budget)
	case yaml.AliasNode:
		return fromYAML(n.Alias, depth+1, budget)
	case yaml.ScalarNode:
		t := &tnode{line: n.Line, text: n.Value}
		switch n.ShortTag() {
		case "!!null":
			t.kind = tNull
		case "!!bool":
			t.kind = tBool
			if err := n.Decode(&t.b); err != nil {
				return nil, schemaError("", n.Line, "bad boolean %q", n.Value)
			}
		case "!!int", "!!float":
			t.kind = tNumber
			if err := n.Decode(&t.num); err != nil {
				return nil, schemaError("", n.Line, "bad number %q", n.Value)
			}
		default:
			t.kind = tString
		}
		return t, nil
	case yaml.MappingNode:
		t := &tnode{kind: tMap, line: n.Line}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			for k != nil && k.Kind == yaml.AliasNode {
				k = k.Alias
			}
			if k == nil || k.Kind != yaml.ScalarNode {
				return nil, schemaError("", n.Line, "mapping keys must be scalars")
			}
			val, err := fromYAML(v, depth+1, budget)
			if err != nil {
				return nil, err
			}
			t.keys = append(t.keys, k.Value)
			t.vals = append(t.vals, val)
		}
		return t, nil
	case yaml.SequenceNode:
		t := &tnode{kind: tSeq, line: n.Line}
		for _, c := range n.Content {
			item, err := fromYAML(c, depth+1, budget)
			if err != nil {
				return nil, err
			}
			t.items = append(t.items, item)
		}
		return t, nil
	}
	return nil, schemaError("", n.Line, "unsupported YAML node")
}

// jsonReader turns encoding/json tokens into a tnode tree, tracking line numbers.
type jsonReader struct {
	dec      *json.Decoder
	data     []byte
	off      int // byte offset up to which lines are counted
	line     int
	numNodes int
}

func parseJSON(data []byte) (*tnode, error) {
	r := &jsonReader{dec: json.NewDecoder(bytes.NewReader(data)), data: data, line: 1}
	r.dec.UseNumber()
	root, err := r.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := r.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, schemaError("", r.lineAt(), "data after the JSON document")
	}
	return root, nil
}

// lineAt returns the line of the decoder's current offset.
func (r *jsonReader) lineAt() int {
	end := int(r.dec.InputOffset())
	if end > len(r.data) {
		end = len(r.data)
	}
	if end > r.off {
		r.line += bytes.Count(r.data[r.off:end], []byte{'\n'})
		r.off = end
	}
	return r.line
}

func (r *jsonReader) value(depth int) (*tnode, error) {
	r.numNodes++
	if depth > maxTreeDepth || r.numNodes > maxTreeNodes {
		return nil, schemaError("", r.lineAt(), "document nested too deeply or too large")
	}
	tok, err := r.dec.Token()
	if err != nil {
		return nil, schemaError("", r.lineAt(), "JSON: %v", err)
	}
	line := r.lineAt()
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &tnode{kind: tMap, line: line}
			for r.dec.More() {
				k, err := r.dec.Token()
				if err != nil {
					return nil, schemaError("", r.lineAt(), "JSON: %v", err)
				}
				key, ok := k.(string)
				if !ok {
					return nil, schemaError("", r.lineAt(), "JSON: object key is not a string")
				}
				v, err := r.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, key)
				n.vals = append(n.vals, v)
			}
			if _, err := r.dec.Token(); err != nil {
				return nil, schemaError("", r.lineAt(), "JSON: %v", err)
			}
			return n, nil
		case '[':
			n := &tnode{kind: tSeq, line: line}
			for r.dec.More() {
				v, err := r.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.items = append(n.items, v)
			}
			if _, err := r.dec.Token(); err != nil {
				return nil, schemaError("", r.lineAt(), "JSON: %v", err)
			}
			return n, nil
		}
		return nil, schemaError("", line, "JSON: unexpected %v", t)
	case string:
		return &tnode{kind: tString, text: t, line: line}, nil
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, schemaError("", line, "JSON: bad number %s", string(t))
		}
		return &tnode{kind: tNumber, text: string(t), num: f, line: line}, nil
	case bool:
		return &tnode{kind: tBool, b: t, line: line}, nil
	case nil:
		return &tnode{kind: tNull, line: line}, nil
	}
	return nil, schemaError("", line, "JSON: unexpected token %v", tok)
}

// decodeSchema maps the tree onto a Schema, rejecting unknown and repeated keys and
// values of the wrong type.
func decodeSchema(root *tnode) (*Schema, *schemaLines, error) {
	if root.kind != tMap {
		return nil, nil, schemaError("", root.line, "want a mapping with the key fields, got %v", root.kind)
	}
	s := &Schema{}
	lines := &schemaLines{}
	seen := map[string]bool{}
	for i, key := range root.keys {
		v := root.vals[i]
		if seen[key] {
			return nil, nil, schemaError("", v.line, "key %q repeated", key)
		}
		seen[key] = true
		switch key {
		case "fields":
			if v.kind == tNull {
				continue
			}
			if v.kind != tSeq {
				return nil, nil, schemaError("", v.line, "fields: want a sequence, got %v", v.kind)
			}
			for j, item := range v.items {
				f, err := decodeField(item, j)
				if err != nil {
					return nil, nil, err
				}
				s.Fields = append(s.Fields, f)
				lines.fields = append(lines.fields, item.line)
			}
		case "interactions":
			if v.kind == tNull {
				continue
			}
			if v.kind != tSeq {
				return nil, nil, schemaError("", v.line, "interactions: want a sequence of pairs, got %v", v.kind)
			}
			for _, item := range v.items {
				if item.kind != tSeq || len(item.items) != 2 || item.items[0].kind != tString || item.items[1].kind != tString {
					return nil, nil, schemaError("", item.line, "interactions: want a pair of field names such as [age, job]")
				}
				s.Interactions = append(s.Interactions, [2]string{item.items[0].text, item.items[1].text})
				lines.interactions = append(lines.interactions, item.line)
			}
		default:
			return nil, nil, schemaError("", v.line, "unknown key %q (want fields, interactions)", key)
		}
	}
	return s, lines, nil
}

// decodeField maps the i'th item of fields onto a Field.
func decodeField(n *tnode, i int) (Field, error) {
	var f Field
	name := fmt.Sprintf("#%d", i+1)
	if n.kind != tMap {
		return f, schemaError(name, n.line, "want a mapping, got %v", n.kind)
	}
	for j, k := range n.keys {
		if v := n.vals[j]; k == "name" && v.kind == tString && v.text != "" {
			name = v.text
		}
	}
	seen := map[string]bool{}
	for j, key := range n.keys {
		v := n.vals[j]
		if seen[key] {
			return f, schemaError(name, v.line, "key %q repeated", key)
		}
		seen[key] = true
		if v.kind == tNull {
			continue // an explicit null means "not set"
		}
		wrong := func(want string) error {
			return schemaError(name, v.line, "%s: want %s, got %v", key, want, v.kind)
		}
		switch key {
		case "name", "source", "type":
			if v.kind != tString {
				return f, wrong("a string")
			}
			switch key {
			case "name":
				f.Name = v.text
			case "source":
				f.Source = Source(v.text)
			case "type":
				f.Kind = Kind(v.text)
			}
		case "standardize", "log1p":
			if v.kind != tBool {
				return f, wrong("true or false")
			}
			if key == "log1p" {
				f.Log1p = v.b
			} else {
				f.Standardize = v.b
			}
		case "clip":
			if v.kind != tSeq || len(v.items) != 2 || v.items[0].kind != tNumber || v.items[1].kind != tNumber {
				return f, schemaError(name, v.line, "clip: want [min, max]")
			}
			f.Clip = &[2]float64{v.items[0].num, v.items[1].num}
		case "buckets":
			if v.kind != tSeq {
				return f, wrong("a sequence of numbers")
			}
			f.Buckets = make([]float64, 0, len(v.items))
			for _, b := range v.items {
				if b.kind != tNumber {
					return f, schemaError(name, b.line, "buckets: want numbers, got %v", b.kind)
				}
				f.Buckets = append(f.Buckets, b.num)
			}
		case "vocabulary":
			if v.kind != tSeq {
				return f, wrong("a sequence of strings")
			}
			f.Vocabulary = make([]string, 0, len(v.items))
			for _, w := range v.items {
				switch w.kind {
				case tString:
					f.Vocabulary = append(f.Vocabulary, w.text)
				case tNumber:
					f.Vocabulary = append(f.Vocabulary, formatNumber(w.num))
				default:
					return f, schemaError(name, w.line, "vocabulary: want strings, got %v (quote it)", w.kind)
				}
			}
		case "hash_buckets":
			if v.kind != tNumber || v.num != math.Trunc(v.num) || v.num < 1 || v.num > MaxHashBuckets {
				return f, schemaError(name, v.line, "hash_buckets: want an integer in [1, %d]", MaxHashBuckets)
			}
			f.HashBuckets = int(v.num)
		default:
			return f, schemaError(name, v.line, "unknown key %q", key)
		}
	}
	return f, nil
}
