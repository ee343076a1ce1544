package api

import "testing"

func TestLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:8080":            true,
		"127.0.0.1":                 true,
		"127.1.2.3:80":              true,
		"[::1]:8080":                true,
		"[::1]":                     true,
		"[::ffff:127.0.0.1]:8080":   true,
		"localhost:8080":            true,
		"LOCALHOST":                 true,
		"localhost.:8080":           true,
		"app.localhost:8080":        true, // browsers resolve *.localhost to loopback themselves
		"":                          false,
		"evil.example:8080":         false,
		"localhost.evil.example":    false,
		"127.0.0.1.evil.example":    false,
		"127.0.0.1.nip.io:8080":     false, // a public name that resolves to 127.0.0.1: rebinding
		"10.0.0.1:8080":             false,
		"0.0.0.0:8080":              false,
		"[::]:8080":                 false,
		"[2001:db8::1]:8080":        false,
		"localhost:8080@evil:80":    false,
		"evil.example#localhost:80": false,
	} {
		if got := loopbackHost(host); got != want {
			t.Errorf("loopbackHost(%q) = %t, want %t", host, got, want)
		}
	}
}

func TestSameHost(t *testing.T) {
	for _, c := range []struct {
		a, b, scheme string
		want         bool
	}{
		{"127.0.0.1:8080", "127.0.0.1:8080", "http://", true},
		{"LOCALHOST:8080", "localhost:8080", "http://", true},
		{"localhost", "localhost:80", "http://", true},
		{"localhost:443", "localhost", "https://", true},
		{"localhost:80", "localhost", "https://", false},
		{"127.0.0.1:1", "127.0.0.1:8080", "http://", false}, // another port: another origin
		{"localhost:8080", "127.0.0.1:8080", "http://", false},
	} {
		if got := sameHost(c.a, c.b, c.scheme); got != c.want {
			t.Errorf("sameHost(%q, %q, %q) = %t, want %t", c.a, c.b, c.scheme, got, c.want)
		}
	}
}
