package config

import (
	"errors"
	"strings"
	"testing"
)

// The seed corpus is in testdata/fuzz/FuzzMerge{TOML,Dotenv}.

func FuzzMergeTOML(f *testing.F) {
	f.Add([]byte("[inner]\nversion = \"2\"\n[a]\nx = 1 # c\ns = 'lit\\s'\n"), []byte("[inner]\nversion = \"1\"\n[a]\nx = 2.5\ns = \"b\\\\s\"\ny = [1,\n 2]\n"))
	f.Fuzz(func(t *testing.T, tmpl, cur []byte) {
		for _, keep := range []bool{false, true} {
			opts := Options{Format: TOML, VersionKeys: []string{"inner.version"}, KeepUnknown: keep}
			out, _, err := Merge(tmpl, cur, opts)
			if err != nil {
				var pe *ParseError
				if errors.As(err, &pe) {
					if pe.Line < 1 || pe.Column < 1 {
						t.Fatalf("parse error without a position: %v", err)
					}
					return
				}
				if keep && strings.Contains(err.Error(), "keeping unknown keys") {
					continue
				}
				t.Fatalf("merge failed: %v", err)
			}
			checkCarried(t, tmpl, cur, out, opts.VersionKeys, keep)
		}
	})
}

func FuzzMergeDotenv(f *testing.F) {
	f.Add([]byte("A=1\n# c\nB=\"x\\ny\"\n"), []byte("B='q # r'\nC=3 # c\n"))
	f.Fuzz(func(t *testing.T, tmpl, cur []byte) {
		out, _, err := Merge(tmpl, cur, Options{Format: Dotenv})
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line < 1 || pe.Column < 1 {
				t.Fatalf("want a positioned parse error, got %v", err)
			}
			return
		}
		od, err := parseDotenv("out", out)
		if err != nil {
			t.Fatalf("output does not parse: %v\n%q", err, out)
		}
		td, _ := parseDotenv("t", tmpl)
		ud, _ := parseDotenv("u", cur)
		for k, ue := range ud.last { // every user value survives (template keys and the user's own)
			if oe, ok := od.last[k]; !ok || oe.value != ue.value {
				t.Fatalf("%q: got %+v, want %q\nout: %q", k, oe, ue.value, out)
			}
		}
		for k, te := range td.last {
			if _, inU := ud.last[k]; !inU && od.last[k].value != te.value {
				t.Fatalf("%q: template default %q lost", k, te.value)
			}
		}
		again, _, err := Merge(tmpl, out, Options{Format: Dotenv})
		if err != nil || string(again) != string(out) {
			t.Fatalf("not idempotent: %v\n%q\n%q", err, out, again)
		}
	})
}
