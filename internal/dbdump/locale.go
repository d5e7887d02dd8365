package dbdump

import "strings"

// InitdbLocale is the encoding and locale the official entrypoint's initdb gives a new
// cluster in environment env: POSTGRES_INITDB_ARGS's --locale, --lc-collate, --lc-ctype,
// -E/--encoding, else LC_ALL, else LANG, else C; the encoding, when not given, is the
// locale's (UTF8 for a .UTF-8 one, SQL_ASCII for C and POSIX). ok is false when the
// encoding cannot be told (initdb asks the C library then).
func InitdbLocale(env map[string]string) (l Locale, ok bool) {
	loc := env["LC_ALL"]
	if loc == "" {
		loc = env["LANG"]
	}
	if loc == "" {
		loc = "C"
	}
	l.Collate, l.Ctype = loc, loc
	args := strings.Fields(env["POSTGRES_INITDB_ARGS"])
	for i := 0; i < len(args); i++ {
		name, val, has := strings.Cut(args[i], "=")
		if !has && i+1 < len(args) && strings.HasPrefix(name, "-") {
			val = args[i+1]
		}
		switch name {
		case "--locale":
			l.Collate, l.Ctype = val, val
		case "--lc-collate":
			l.Collate = val
		case "--lc-ctype":
			l.Ctype = val
		case "-E", "--encoding":
			l.Encoding = strings.ToUpper(val)
		}
	}
	if l.Encoding == "" {
		switch c := normLocale(l.Ctype); {
		case strings.HasSuffix(c, ".utf8"):
			l.Encoding = "UTF8"
		case c == "c" || c == "posix":
			l.Encoding = "SQL_ASCII"
		default:
			return l, false
		}
	}
	return l, true
}

// SameLocale compares two locales as initdb writes them ("en_US.UTF-8" and "en_US.utf8"
// are one; "UTF-8" and "UTF8" too).
func SameLocale(a, b Locale) bool {
	return normLocale(a.Collate) == normLocale(b.Collate) && normLocale(a.Ctype) == normLocale(b.Ctype) &&
		strings.ReplaceAll(strings.ToUpper(a.Encoding), "-", "") == strings.ReplaceAll(strings.ToUpper(b.Encoding), "-", "")
}

func normLocale(s string) string {
	return strings.ReplaceAll(strings.ToLower(s), "utf-8", "utf8")
}
