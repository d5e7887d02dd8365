package composefile

import (
	"fmt"
	"strings"
	"unicode"
)

// varDef is where an env file sets a variable (its last assignment, which wins).
type varDef struct {
	line   int
	offset int    // byte offset of the value's text (inside its quotes)
	value  string // the text as written
	quote  byte   // '"', '\'' or 0
}

// canHold says whether v can be written in place of the value without changing how the
// rest of the line reads.
func (d *varDef) canHold(v string) error {
	switch d.quote {
	case '"':
		if strings.ContainsAny(d.value, `\$`) {
			return fmt.Errorf("the value %q uses escapes or variables", d.value)
		}
		if strings.ContainsAny(v, "\"\\$\n") {
			return fmt.Errorf("%q cannot be written between double quotes as it is", v)
		}
	case '\'':
		if strings.ContainsAny(v, "'\n") {
			return fmt.Errorf("%q cannot be written between single quotes", v)
		}
	default:
		if strings.Contains(d.value, "$") {
			return fmt.Errorf("the value %q uses variables", d.value)
		}
		if v != strings.TrimSpace(v) || strings.ContainsAny(v, "\n\r\"'$\\") || strings.Contains(v, " #") {
			return fmt.Errorf("%q cannot be written unquoted as it is", v)
		}
	}
	return nil
}

func isSpace(c byte) bool {
	switch c {
	case '\t', '\v', '\f', '\r', ' ':
		return true
	}
	return false
}

// findVar finds the last assignment of key in env file b, reading statements the way
// compose's dotenv parser does (comments, export, KEY=value and KEY: value, quoted values
// over several lines, " #" comments after unquoted values). nil when the file does not
// set it.
func findVar(b []byte, key string) (*varDef, error) {
	src := string(b)
	var found *varDef
	i := 0
	for {
		for i < len(src) && unicode.IsSpace(rune(src[i])) {
			i++
		}
		if i >= len(src) {
			return found, nil
		}
		if src[i] == '#' {
			nl := strings.IndexByte(src[i:], '\n')
			if nl < 0 {
				return found, nil
			}
			i += nl
			continue
		}
		if strings.HasPrefix(src[i:], "export") && i+6 < len(src) && (src[i+6] == ' ' || src[i+6] == '\t') {
			i += 6
			for i < len(src) && isSpace(src[i]) {
				i++
			}
		}
		ks := i
		for i < len(src) && src[i] != '=' && src[i] != ':' && src[i] != '\n' {
			i++
		}
		k := strings.TrimRightFunc(src[ks:i], unicode.IsSpace)
		if i >= len(src) || src[i] == '\n' {
			continue // "KEY" alone: inherited from the shell
		}
		i++ // = or :
		for i < len(src) && isSpace(src[i]) {
			i++
		}
		def := &varDef{offset: i}
		if i < len(src) && (src[i] == '"' || src[i] == '\'') {
			q := src[i]
			j := i + 1
			esc := false
			for ; j < len(src); j++ {
				c := src[j]
				if esc {
					esc = false
					continue
				}
				if c == '\\' {
					esc = true
					continue
				}
				if c == q {
					break
				}
			}
			if j >= len(src) {
				return nil, fmt.Errorf("unterminated quoted value of %s", k)
			}
			def.quote, def.offset, def.value = q, i+1, src[i+1:j]
			i = j + 1
			if strings.Contains(def.value, "\n") && k == key {
				return nil, fmt.Errorf("the value of %s spans lines", k)
			}
		} else {
			end := strings.IndexByte(src[i:], '\n')
			if end < 0 {
				end = len(src) - i
			}
			v := src[i : i+end]
			v, _, _ = strings.Cut(v, " #")
			def.value = strings.TrimRightFunc(v, unicode.IsSpace)
			i += end
		}
		if k == key {
			def.line = strings.Count(src[:def.offset], "\n") + 1
			found = def
		}
	}
}
