package config

import (
	"bytes"
	"strings"
)

// envEntry is one KEY=VALUE entry of a dotenv file.
type envEntry struct {
	key         string
	lineStart   int
	blockStart  int  // start of the comment lines directly above the entry
	blankBefore bool // a blank line precedes the comment block / entry
	valStart    int  // first byte of the value (after '=' and spaces)
	valEnd      int  // end of the entry's text (before its newline)
	lineEnd     int  // one past the newline (or len(data))
	value       string
}

type envDoc struct {
	data    []byte
	entries []*envEntry
	last    map[string]*envEntry // last definition of each key wins
}

func envKeyByte(c byte) bool {
	return c > ' ' && c != '=' && c != '#' && c != '"' && c != '\'' && c != 0x7f
}

// parseDotenv parses KEY=VALUE lines, `export KEY=VALUE`, comments and blank
// lines. Values may be unquoted (an inline comment starts at " #"), single-
// quoted (literal) or double-quoted (escapes \n \t \r \" \\ \$); quoted values
// may span lines.
func parseDotenv(name string, data []byte) (*envDoc, error) {
	d := &envDoc{data: data, last: map[string]*envEntry{}}
	fail := func(off int, msg string) error {
		line, col := lineCol(data, off)
		return &ParseError{File: name, Format: Dotenv, Line: line, Column: col, Msg: msg}
	}
	pos := 0
	blockStart := -1
	prevBlank := false
	blankBeforeBlock := false
	for pos < len(data) {
		ls := pos
		le := lineEndAfter(data, pos)
		i := pos
		for i < le && isSpace(data[i]) {
			i++
		}
		content := bytes.TrimRight(data[i:le], "\r\n")
		if len(bytes.TrimSpace(content)) == 0 {
			pos, blockStart, prevBlank = le, -1, true
			continue
		}
		if content[0] == '#' {
			if blockStart < 0 {
				blockStart = ls
				blankBeforeBlock = prevBlank
			}
			pos, prevBlank = le, false
			continue
		}
		if bytes.HasPrefix(content, []byte("export")) && len(content) > 6 && isSpace(content[6]) {
			i += 6
			for i < le && isSpace(data[i]) {
				i++
			}
		}
		ks := i
		for i < len(data) && envKeyByte(data[i]) {
			i++
		}
		if i == ks {
			return nil, fail(i, "expected a variable name")
		}
		key := string(data[ks:i])
		for i < len(data) && isSpace(data[i]) {
			i++
		}
		if i >= len(data) || data[i] != '=' {
			return nil, fail(i, "expected '=' after "+key)
		}
		i++
		for i < len(data) && isSpace(data[i]) {
			i++
		}
		e := &envEntry{key: key, lineStart: ls, valStart: i, blockStart: ls, blankBefore: prevBlank}
		if blockStart >= 0 {
			e.blockStart, e.blankBefore = blockStart, blankBeforeBlock
		}
		var end int
		switch {
		case i < len(data) && (data[i] == '"' || data[i] == '\''):
			q := data[i]
			j := i + 1
			var val strings.Builder
			for ; j < len(data) && data[j] != q; j++ {
				c := data[j]
				if q == '"' && c == '\\' && j+1 < len(data) {
					j++
					switch data[j] {
					case 'n':
						val.WriteByte('\n')
					case 't':
						val.WriteByte('\t')
					case 'r':
						val.WriteByte('\r')
					case '"', '\\', '$', '\'':
						val.WriteByte(data[j])
					default:
						val.WriteByte('\\')
						val.WriteByte(data[j])
					}
					continue
				}
				val.WriteByte(c)
			}
			if j >= len(data) {
				return nil, fail(i, "unterminated quoted value")
			}
			e.value = val.String()
			le = lineEndAfter(data, j)
			k := j + 1
			for k < le && isSpace(data[k]) {
				k++
			}
			if rest := bytes.TrimRight(data[k:le], "\r\n"); len(rest) > 0 && rest[0] != '#' {
				return nil, fail(k, "unexpected text after quoted value")
			}
			end = le
		default:
			end = le
			raw := bytes.TrimRight(data[i:le], "\r\n")
			v := raw
			for k := 1; k < len(raw); k++ {
				if raw[k] == '#' && isSpace(raw[k-1]) {
					v = raw[:k]
					break
				}
			}
			e.value = string(bytes.TrimRight(v, " \t"))
		}
		e.valEnd = len(bytes.TrimRight(data[:end], "\r\n"))
		if e.valEnd < e.valStart {
			e.valEnd = e.valStart
		}
		e.lineEnd = end
		d.entries = append(d.entries, e)
		d.last[key] = e
		pos, blockStart, prevBlank = end, -1, false
	}
	return d, nil
}

func mergeDotenv(template, current []byte, opts Options, rep *Report) ([]byte, error) {
	t, err := parseDotenv(opts.TemplateName, template)
	if err != nil {
		return nil, err
	}
	u, err := parseDotenv(opts.CurrentName, current)
	if err != nil {
		return nil, err
	}
	var edits []edit
	seen := map[string]bool{}
	for _, te := range t.entries {
		first := !seen[te.key]
		seen[te.key] = true
		ue, ok := u.last[te.key]
		if opts.isVersionKey(te.key) {
			if first {
				rep.Version = &VersionChange{Key: te.key, To: t.last[te.key].value}
				if ok {
					rep.Version.From = ue.value
				}
			}
			continue
		}
		if !ok {
			if first {
				rep.New = append(rep.New, te.key)
			}
			continue
		}
		// Only the last definition counts (as for the application); earlier
		// duplicates in the template stay as they are.
		if te != t.last[te.key] {
			continue
		}
		uval := current[ue.valStart:ue.valEnd]
		if bytes.Equal(uval, template[te.valStart:te.valEnd]) {
			continue
		}
		rep.Changed = append(rep.Changed, te.key)
		edits = append(edits, edit{te.valStart, te.valEnd, uval})
	}
	out := applyEdits(template, edits)

	var kept []*envEntry
	keptKey := map[string]bool{}
	for _, ue := range u.entries {
		if seen[ue.key] {
			continue
		}
		kept = append(kept, ue)
		if !keptKey[ue.key] {
			keptKey[ue.key] = true
			rep.KeptUnknown = append(rep.KeptUnknown, ue.key)
		}
	}
	if len(kept) == 0 {
		return out, nil
	}
	if len(out) > 0 {
		if out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		out = append(out, '\n')
	}
	for i, ue := range kept {
		if i > 0 && ue.blankBefore {
			out = append(out, '\n')
		}
		out = append(out, current[ue.blockStart:ue.lineEnd]...)
		if out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
	}
	return out, nil
}
