package dbdump

import "strings"

// The locale check of upgrade --migrate-db: the side cluster the new image initialised
// (internal/dbside) is read with ClusterLocale and compared with the old one.

// SameLocale compares two locales as initdb writes them ("en_US.UTF-8" and "en_US.utf8"
// are one; "UTF-8" and "UTF8" too).
func SameLocale(a, b Locale) bool {
	return normLocale(a.Collate) == normLocale(b.Collate) && normLocale(a.Ctype) == normLocale(b.Ctype) &&
		strings.ReplaceAll(strings.ToUpper(a.Encoding), "-", "") == strings.ReplaceAll(strings.ToUpper(b.Encoding), "-", "")
}

func normLocale(s string) string {
	return strings.ReplaceAll(strings.ToLower(s), "utf-8", "utf8")
}
