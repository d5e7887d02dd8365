package dbdump

import "testing"

// TestSameLocale: initdb's spellings of one locale are one.
func TestSameLocale(t *testing.T) {
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
