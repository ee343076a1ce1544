package record

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// idRegexp is ValidID's specification.
var idRegexp = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$`)

func TestValidIDMatchesItsRegexp(t *testing.T) {
	cases := []string{"", "a", "A", "0", ".", "-a", "a-", "offer-01", "c:12@x.y_z", "a b", "a/b",
		"é", "a\x00", "a\n", strings.Repeat("a", 128), strings.Repeat("a", 129), "_a", "@", "Z9"}
	for _, s := range cases {
		if got, want := ValidID(s), idRegexp.MatchString(s); got != want {
			t.Errorf("ValidID(%q) = %v, the regexp says %v", s, got, want)
		}
	}
	// Random strings over an alphabet of the allowed bytes and some that are not, at
	// lengths around the limit.
	const alphabet = "aZ09._:@-/ \x00\xff~+"
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		n := rng.IntN(132)
		if rng.IntN(4) == 0 {
			n = 126 + rng.IntN(5)
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		if rng.IntN(3) > 0 && n > 0 { // mostly valid-looking
			for i := range b {
				if !idAlnum(b[i]) && !strings.ContainsRune("._:@-", rune(b[i])) {
					b[i] = 'x'
				}
			}
		}
		s := string(b)
		if got, want := ValidID(s), idRegexp.MatchString(s); got != want {
			t.Fatalf("ValidID(%q) = %v, the regexp says %v", s, got, want)
		}
	}
}

func FuzzValidID(f *testing.F) {
	for _, s := range []string{"", "offer-01", "-x", strings.Repeat("b", 128), "a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidID(s), idRegexp.MatchString(s); got != want {
			t.Fatalf("ValidID(%q) = %v, the regexp says %v", s, got, want)
		}
	})
}

func BenchmarkValidID(b *testing.B) {
	ids := []string{"offer-01", "c-000123456", "0196f3a2b4c5d6e7f8", "retention-discount-30"}
	b.Run("loop", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			ValidID(ids[i%len(ids)])
		}
	})
	b.Run("regexp", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			idRegexp.MatchString(ids[i%len(ids)])
		}
	})
}
