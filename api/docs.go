package api

import (
	"bytes"
	_ "embed" // the page's template, docs.html
	"fmt"
	"html/template"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/nextbest/nextbest/access"
)

// The API reference page (/docs) is rendered on the server from the OpenAPI document, with
// html/template: operations grouped by tag, each with its permission and the roles that
// have it, its parameters, its request body, every response with its schema and examples;
// then every schema of the components. The page holds everything it shows: no script, no
// style sheet or font from elsewhere, so it reads the same offline and behind a proxy.

//go:embed docs.html
var docsHTML string

var docsTemplate = template.Must(template.New("docs").Parse(docsHTML))

// docView is what docs.html renders.
type docView struct {
	Title, Version, Summary string
	Description             template.HTML
	Tags                    []tagView
	Schemas                 []schemaView
}

type tagView struct {
	Name        string
	Description template.HTML
	Ops         []opView
}

type opView struct {
	Anchor, Method, Path, Summary string
	Description                   template.HTML
	Permission                    string // "" for a route that needs no key
	Roles                         string // the roles whose keys may call it
	Params                        []paramView
	Body                          *bodyView
	Responses                     []responseView
}

type paramView struct {
	Name, In    string
	Required    bool
	Type        template.HTML
	Description template.HTML
	Examples    []exampleView
}

type bodyView struct {
	Required    bool
	Description template.HTML
	Contents    []contentView
}

type responseView struct {
	Status      string
	Description template.HTML
	Headers     []string
	Contents    []contentView
}

type contentView struct {
	MediaType string
	Type      template.HTML
	Props     []propView // an inline object's properties
	Examples  []exampleView
}

type exampleView struct {
	Name, Summary, Value string
	NotRun               string // x-not-run: why the conformance test does not send it
}

type schemaView struct {
	Name        string
	Description template.HTML
	Type        template.HTML
	Props       []propView
}

type propView struct {
	Name        string
	Required    bool
	Type        template.HTML
	Description template.HTML
	Props       []propView // an inline object's properties
}

// renderDocs renders the page of an OpenAPI document.
func renderDocs(doc []byte) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("docs: parse the OpenAPI document: %w", err)
	}
	if len(root.Content) != 1 {
		return nil, fmt.Errorf("docs: the OpenAPI document is empty")
	}
	d := &docReader{root: root.Content[0]}
	v, err := d.view()
	if err != nil {
		return nil, fmt.Errorf("docs: %w", err)
	}
	var buf bytes.Buffer
	if err := docsTemplate.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("docs: render: %w", err)
	}
	return buf.Bytes(), nil
}

// docReader reads an OpenAPI document as YAML nodes, which keep the document's order.
type docReader struct {
	root *yaml.Node
}

// httpMethods are the operations of a path item, in the order the page shows them.
var httpMethods = []string{"get", "put", "post", "delete", "patch", "head", "options"}

func (d *docReader) view() (*docView, error) {
	info := get(d.root, "info")
	v := &docView{Title: str(get(info, "title")), Version: str(get(info, "version")), Summary: str(get(info, "summary")),
		Description: markdown(str(get(info, "description")))}
	byTag := map[string]int{}
	for _, t := range seq(get(d.root, "tags")) {
		byTag[str(get(t, "name"))] = len(v.Tags)
		v.Tags = append(v.Tags, tagView{Name: str(get(t, "name")), Description: markdown(str(get(t, "description")))})
	}
	globalSecurity := len(seq(get(d.root, "security"))) > 0
	for _, p := range pairs(get(d.root, "paths")) {
		path, item := p.key, d.resolve(p.value)
		for _, m := range httpMethods {
			op := get(item, m)
			if op == nil {
				continue
			}
			ov, err := d.operation(path, m, item, op, globalSecurity)
			if err != nil {
				return nil, err
			}
			tags := seq(get(op, "tags"))
			if len(tags) == 0 {
				return nil, fmt.Errorf("%s %s: no tag", strings.ToUpper(m), path)
			}
			i, ok := byTag[str(tags[0])]
			if !ok {
				return nil, fmt.Errorf("%s %s: tag %q is not declared", strings.ToUpper(m), path, str(tags[0]))
			}
			v.Tags[i].Ops = append(v.Tags[i].Ops, ov)
		}
	}
	for _, p := range pairs(get(get(d.root, "components"), "schemas")) {
		s := schemaView{Name: p.key, Description: markdown(str(get(p.value, "description"))), Type: d.typeHTML(p.value)}
		s.Props = d.props(p.value)
		v.Schemas = append(v.Schemas, s)
	}
	return v, nil
}

func (d *docReader) operation(path, method string, item, op *yaml.Node, globalSecurity bool) (opView, error) {
	ov := opView{Method: strings.ToUpper(method), Path: path, Summary: str(get(op, "summary")), Description: markdown(str(get(op, "description")))}
	ov.Anchor = str(get(op, "operationId"))
	if ov.Anchor == "" {
		return ov, fmt.Errorf("%s %s: no operationId", ov.Method, path)
	}
	security := globalSecurity
	if s := get(op, "security"); s != nil {
		security = len(seq(s)) > 0
	}
	if security {
		ov.Permission = str(get(op, "x-permission"))
		if ov.Permission == "" {
			return ov, fmt.Errorf("%s %s: needs a key but names no x-permission", ov.Method, path)
		}
		var roles []string
		for _, r := range access.Roles {
			if r.Allows(access.Permission(ov.Permission)) {
				roles = append(roles, string(r))
			}
		}
		if len(roles) == 0 {
			return ov, fmt.Errorf("%s %s: no role has permission %q", ov.Method, path, ov.Permission)
		}
		ov.Roles = strings.Join(roles, ", ")
	}
	// Parameters: the path item's, then the operation's, which replace one of the same name
	// and place.
	var params []*yaml.Node
	for _, list := range []*yaml.Node{get(item, "parameters"), get(op, "parameters")} {
		for _, p := range seq(list) {
			p = d.resolve(p)
			params = slices.DeleteFunc(params, func(q *yaml.Node) bool {
				return str(get(q, "name")) == str(get(p, "name")) && str(get(q, "in")) == str(get(p, "in"))
			})
			params = append(params, p)
		}
	}
	for _, p := range params {
		pv := paramView{Name: str(get(p, "name")), In: str(get(p, "in")), Required: str(get(p, "required")) == "true",
			Type: d.typeHTML(get(p, "schema")), Description: markdown(str(get(p, "description")))}
		pv.Examples = d.examples(p)
		ov.Params = append(ov.Params, pv)
	}
	if rb := get(op, "requestBody"); rb != nil {
		rb = d.resolve(rb)
		ov.Body = &bodyView{Required: str(get(rb, "required")) == "true", Description: markdown(str(get(rb, "description"))), Contents: d.contents(get(rb, "content"))}
	}
	for _, r := range pairs(get(op, "responses")) {
		resp := d.resolve(r.value)
		rv := responseView{Status: r.key, Description: markdown(str(get(resp, "description"))), Contents: d.contents(get(resp, "content"))}
		for _, h := range pairs(get(resp, "headers")) {
			rv.Headers = append(rv.Headers, h.key)
		}
		ov.Responses = append(ov.Responses, rv)
	}
	return ov, nil
}

func (d *docReader) contents(n *yaml.Node) []contentView {
	var out []contentView
	for _, c := range pairs(n) {
		schema := get(c.value, "schema")
		cv := contentView{MediaType: c.key, Type: d.typeHTML(schema), Examples: d.examples(c.value)}
		if schema != nil && get(schema, "$ref") == nil {
			cv.Props = d.props(schema)
		}
		out = append(out, cv)
	}
	return out
}

// examples lists the examples of a parameter or media type: its examples map, or its
// single example.
func (d *docReader) examples(n *yaml.Node) []exampleView {
	var out []exampleView
	for _, e := range pairs(get(n, "examples")) {
		ex := d.resolve(e.value)
		out = append(out, exampleView{Name: e.key, Summary: str(get(ex, "summary")), Value: exampleText(get(ex, "value")), NotRun: str(get(ex, "x-not-run"))})
	}
	if e := get(n, "example"); e != nil {
		out = append(out, exampleView{Name: "example", Value: exampleText(e)})
	}
	return out
}

// props lists the properties of an object schema, with those of its inline objects.
func (d *docReader) props(schema *yaml.Node) []propView {
	required := map[string]bool{}
	for _, r := range seq(get(schema, "required")) {
		required[str(r)] = true
	}
	var out []propView
	for _, p := range pairs(get(schema, "properties")) {
		pv := propView{Name: p.key, Required: required[p.key], Type: d.typeHTML(p.value), Description: markdown(str(get(p.value, "description")))}
		if get(p.value, "$ref") == nil {
			pv.Props = d.props(p.value)
		}
		out = append(out, pv)
	}
	return out
}

// typeHTML describes a schema in a few words, linking the component schemas it names.
func (d *docReader) typeHTML(s *yaml.Node) template.HTML {
	if s == nil {
		return ""
	}
	if ref := str(get(s, "$ref")); ref != "" {
		name := ref[strings.LastIndexByte(ref, '/')+1:]
		return template.HTML(`<a href="#schema-` + template.HTMLEscapeString(name) + `">` + template.HTMLEscapeString(name) + `</a>`)
	}
	for _, k := range []string{"oneOf", "anyOf"} {
		if alts := seq(get(s, k)); len(alts) > 0 {
			parts := make([]string, len(alts))
			for i, a := range alts {
				parts[i] = string(d.typeHTML(a))
			}
			return template.HTML(strings.Join(parts, " or "))
		}
	}
	var types []string
	if t := get(s, "type"); t != nil {
		if t.Kind == yaml.SequenceNode {
			for _, x := range t.Content {
				types = append(types, x.Value)
			}
		} else {
			types = []string{t.Value}
		}
	}
	var b strings.Builder
	for i, t := range types {
		if i > 0 {
			b.WriteString(" or ")
		}
		switch t {
		case "array":
			b.WriteString("array of " + string(d.typeHTML(get(s, "items"))))
		case "object":
			if ap := get(s, "additionalProperties"); ap != nil && ap.Kind == yaml.MappingNode {
				b.WriteString("map of " + string(d.typeHTML(ap)))
			} else {
				b.WriteString("object")
			}
		default:
			b.WriteString(template.HTMLEscapeString(t))
		}
	}
	if f := str(get(s, "format")); f != "" {
		b.WriteString(" (" + template.HTMLEscapeString(f) + ")")
	}
	if c := get(s, "const"); c != nil {
		b.WriteString("<code>" + template.HTMLEscapeString(c.Value) + "</code>")
	}
	if enum := seq(get(s, "enum")); len(enum) > 0 {
		vals := make([]string, len(enum))
		for i, e := range enum {
			vals[i] = "<code>" + template.HTMLEscapeString(e.Value) + "</code>"
		}
		b.WriteString(", one of " + strings.Join(vals, " "))
	}
	for _, k := range []string{"minimum", "maximum", "maxLength", "default"} {
		if v := get(s, k); v != nil {
			b.WriteString(", " + k + " " + template.HTMLEscapeString(v.Value))
		}
	}
	if b.Len() == 0 {
		return "any"
	}
	return template.HTML(b.String())
}

// resolve follows a local $ref ("#/components/...").
func (d *docReader) resolve(n *yaml.Node) *yaml.Node {
	for range 8 { // a chain of refs, bounded
		ref := str(get(n, "$ref"))
		if !strings.HasPrefix(ref, "#/") {
			return n
		}
		at := d.root
		for _, k := range strings.Split(ref[2:], "/") {
			at = get(at, k)
		}
		if at == nil {
			return n
		}
		n = at
	}
	return n
}

// exampleText writes an example value as indented JSON in the document's key order, or a
// string as it is.
func exampleText(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		return n.Value
	}
	var b strings.Builder
	writeJSON(&b, n, "")
	return b.String()
}

func writeJSON(b *strings.Builder, n *yaml.Node, indent string) {
	switch n.Kind {
	case yaml.MappingNode:
		if len(n.Content) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for i := 0; i < len(n.Content); i += 2 {
			b.WriteString(indent + "  " + strconv.Quote(n.Content[i].Value) + ": ")
			writeJSON(b, n.Content[i+1], indent+"  ")
			if i+2 < len(n.Content) {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[\n")
		for i, c := range n.Content {
			b.WriteString(indent + "  ")
			writeJSON(b, c, indent+"  ")
			if i+1 < len(n.Content) {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	case yaml.AliasNode:
		writeJSON(b, n.Alias, indent)
	default:
		switch n.Tag {
		case "!!int", "!!float", "!!bool":
			b.WriteString(n.Value)
		case "!!null":
			b.WriteString("null")
		default:
			b.WriteString(strconv.Quote(n.Value))
		}
	}
}

// get returns the value of key in a mapping node, or nil.
func get(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

type nodePair struct {
	key   string
	value *yaml.Node
}

// pairs returns the entries of a mapping node in order.
func pairs(n *yaml.Node) []nodePair {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	out := make([]nodePair, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, nodePair{n.Content[i].Value, n.Content[i+1]})
	}
	return out
}

// seq returns the items of a sequence node.
func seq(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

// str returns a scalar node's value, or "".
func str(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

var (
	mdCode   = regexp.MustCompile("`([^`]+)`")
	mdStrong = regexp.MustCompile(`\*\*([^*]+)\*\*`)
)

// markdown renders the little Markdown the document's descriptions use: paragraphs,
// tables, `code` and **strong**. Everything else is text, escaped.
func markdown(s string) template.HTML {
	var b strings.Builder
	for _, block := range strings.Split(strings.TrimSpace(s), "\n\n") {
		lines := strings.Split(strings.TrimSpace(block), "\n")
		if len(lines) == 0 || lines[0] == "" {
			continue
		}
		if isTable(lines) {
			b.WriteString(`<table class="md">`)
			for i, l := range lines {
				if i == 1 {
					continue // the separator row
				}
				cell := "td"
				if i == 0 {
					cell = "th"
				}
				b.WriteString("<tr>")
				for _, c := range strings.Split(strings.Trim(strings.TrimSpace(l), "|"), "|") {
					b.WriteString("<" + cell + ">" + inline(strings.TrimSpace(c)) + "</" + cell + ">")
				}
				b.WriteString("</tr>")
			}
			b.WriteString("</table>")
			continue
		}
		b.WriteString("<p>" + inline(strings.Join(lines, " ")) + "</p>")
	}
	return template.HTML(b.String())
}

func isTable(lines []string) bool {
	if len(lines) < 2 {
		return false
	}
	for _, l := range lines {
		if !strings.HasPrefix(strings.TrimSpace(l), "|") {
			return false
		}
	}
	return true
}

func inline(s string) string {
	s = template.HTMLEscapeString(s)
	s = mdCode.ReplaceAllString(s, "<code>$1</code>")
	return mdStrong.ReplaceAllString(s, "<strong>$1</strong>")
}
