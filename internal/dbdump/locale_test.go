package dbdump

import "testing"

// TestInitdbLocale: what the entrypoint's initdb gives a cluster, from the environment.
func TestInitdbLocale(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want Locale
		ok   bool
	}{
		{map[string]string{"LANG": "C.UTF-8"}, loc("UTF8", "C.UTF-8", "C.UTF-8"), true},
		{map[string]string{"LANG": "en_US.utf8", "LC_ALL": "de_DE.UTF-8"}, loc("UTF8", "de_DE.UTF-8", "de_DE.UTF-8"), true},
		{map[string]string{}, loc("SQL_ASCII", "C", "C"), true},
		{map[string]string{"LANG": "en_US.utf8", "POSTGRES_INITDB_ARGS": "--encoding=LATIN1 --lc-collate=C --lc-ctype C"}, loc("LATIN1", "C", "C"), true},
		{map[string]string{"LANG": "C.UTF-8", "POSTGRES_INITDB_ARGS": "-E UTF8 --locale=en_US.UTF-8"}, loc("UTF8", "en_US.UTF-8", "en_US.UTF-8"), true},
		{map[string]string{"LANG": "de_DE"}, loc("", "de_DE", "de_DE"), false},
	} {
		got, ok := InitdbLocale(tc.env)
		if got != tc.want || ok != tc.ok {
			t.Errorf("InitdbLocale(%v) = %+v, %v; want %+v, %v", tc.env, got, ok, tc.want, tc.ok)
		}
	}
	if !SameLocale(loc("UTF8", "en_US.utf8", "en_US.utf8"), loc("UTF-8", "en_US.UTF-8", "en_US.UTF-8")) {
		t.Error("en_US.utf8 and en_US.UTF-8 differ")
	}
	if SameLocale(loc("UTF8", "C.UTF-8", "C.UTF-8"), loc("UTF8", "en_US.UTF-8", "C.UTF-8")) {
		t.Error("C.UTF-8 and en_US.UTF-8 collations are the same")
	}
}

func loc(enc, collate, ctype string) Locale {
	return Locale{Encoding: enc, Collate: collate, Ctype: ctype}
}
