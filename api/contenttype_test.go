package api

import "testing"

func TestIsJSON(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json":                      true,
		"APPLICATION/JSON":                      true,
		" application/json ":                    true,
		"application/json; charset=utf-8":       true,
		"application/json;charset=UTF-8":        true, // axios 0.x
		`application/json; charset="utf-8"`:     true,
		"application/json; charset=utf8":        true,
		"application/json;":                     true,
		"application/json; version=2":           true, // a parameter JSON does not define changes nothing
		"application/json; charset=iso-8859-1":  false,
		"application/json; charset=utf-16":      false,
		"application/json; v=1; charset=latin1": false,
		"application/jsonp":                     false,
		"application/json-seq":                  false,
		"application/x-www-form-urlencoded":     false,
		"text/plain":                            false,
		"text/plain; charset=utf-8":             false,
		"text/json":                             false,
		"multipart/form-data; boundary=x":       false,
		"application/problem+json":              false,
		"json":                                  false,
	} {
		if got := isJSON(ct); got != want {
			t.Errorf("isJSON(%q) = %t, want %t", ct, got, want)
		}
	}
}

// BenchmarkIsJSON is what requireJSON adds to every decide, besides a middleware call.
func BenchmarkIsJSON(b *testing.B) {
	for _, ct := range []string{"application/json", "application/json;charset=UTF-8"} {
		b.Run(ct, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !isJSON(ct) {
					b.Fatal("refused")
				}
			}
		})
	}
}
