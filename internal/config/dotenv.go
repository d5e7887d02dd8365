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
	r := &dotenvReader{name: name, data: data, blockStart: -1}
	for r.pos < len(data) {
		ls := r.pos
		le := lineEndAfter(data, ls)
		i := ls
		for i < le && isSpace(data[i]) {
			i++
		}
		content := bytes.TrimRight(data[i:le], "\r\n")
		switch {
		case len(bytes.TrimSpace(content)) == 0:
			r.pos, r.blockStart, r.prevBlank = le, -1, true
		case content[0] == '#':
			r.comment(ls, le)
		default:
			e, err := r.entry(ls, le, i, content)
			if err != nil {
				return nil, err
			}
			d.entries = append(d.entries, e)
			d.last[e.key] = e
			r.pos, r.blockStart, r.prevBlank = e.lineEnd, -1, false
		}
	}
	return d, nil
}

// dotenvReader is parseDotenv's state between lines: where the next line
// starts, and the comment block (and blank line) an entry below would carry.
type dotenvReader struct {
	name             string
	data             []byte
	pos              int
	blockStart       int  // start of the comment lines since the last blank line or entry (-1: none)
	prevBlank        bool // the line before is blank
	blankBeforeBlock bool // a blank line precedes the comment block
}

func (r *dotenvReader) fail(off int, msg string) error {
	line, col := lineCol(r.data, off)
	return &ParseError{File: r.name, Format: Dotenv, Line: line, Column: col, Msg: msg}
}

// comment reads a comment line [ls, le): it starts or extends the block of
// comments that belongs to the entry below it.
func (r *dotenvReader) comment(ls, le int) {
	if r.blockStart < 0 {
		r.blockStart = ls
		r.blankBeforeBlock = r.prevBlank
	}
	r.pos, r.prevBlank = le, false
}

// entry reads the entry starting on the line [ls, le), whose text (content)
// starts at i: an optional `export`, the name, '=' and the value.
func (r *dotenvReader) entry(ls, le, i int, content []byte) (*envEntry, error) {
	data := r.data
	if bytes.HasPrefix(content, []byte("export")) && len(content) > 6 && isSpace(content[6]) {
		i += 6
		for i < le && isSpace(data[i]) {
			i++
		}
	}
	key, i, err := r.assignment(i)
	if err != nil {
		return nil, err
	}
	e := &envEntry{key: key, lineStart: ls, valStart: i, blockStart: ls, blankBefore: r.prevBlank}
	if r.blockStart >= 0 {
		e.blockStart, e.blankBefore = r.blockStart, r.blankBeforeBlock
	}
	end := le
	if i < len(data) && (data[i] == '"' || data[i] == '\'') {
		if e.value, end, err = r.quoted(i); err != nil {
			return nil, err
		}
	} else {
		e.value = unquotedEnvValue(data[i:le])
	}
	e.valEnd = len(bytes.TrimRight(data[:end], "\r\n"))
	if e.valEnd < e.valStart {
		e.valEnd = e.valStart
	}
	e.lineEnd = end
	return e, nil
}

// assignment reads `NAME =` from i (spaces around '=' allowed) and returns the
// name and where the value starts.
func (r *dotenvReader) assignment(i int) (key string, valStart int, err error) {
	data := r.data
	ks := i
	for i < len(data) && envKeyByte(data[i]) {
		i++
	}
	if i == ks {
		return "", 0, r.fail(i, "expected a variable name")
	}
	key = string(data[ks:i])
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	if i >= len(data) || data[i] != '=' {
		return "", 0, r.fail(i, "expected '=' after "+key)
	}
	i++
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	return key, i, nil
}

// quoted reads the quoted value whose opening quote is at i: single quotes are
// literal, double quotes take escapes, and either may span lines. After the
// closing quote only a comment may follow on its line; end is one past that
// line.
func (r *dotenvReader) quoted(i int) (value string, end int, err error) {
	data := r.data
	q := data[i]
	j := i + 1
	var val strings.Builder
	for ; j < len(data) && data[j] != q; j++ {
		c := data[j]
		if q == '"' && c == '\\' && j+1 < len(data) {
			j++
			unescapeEnv(&val, data[j])
			continue
		}
		val.WriteByte(c)
	}
	if j >= len(data) {
		return "", 0, r.fail(i, "unterminated quoted value")
	}
	le := lineEndAfter(data, j)
	k := j + 1
	for k < le && isSpace(data[k]) {
		k++
	}
	if rest := bytes.TrimRight(data[k:le], "\r\n"); len(rest) > 0 && rest[0] != '#' {
		return "", 0, r.fail(k, "unexpected text after quoted value")
	}
	return val.String(), le, nil
}

// unescapeEnv writes what the escape \c stands for in a double-quoted value;
// an unknown escape stays as written.
func unescapeEnv(val *strings.Builder, c byte) {
	switch c {
	case 'n':
		val.WriteByte('\n')
	case 't':
		val.WriteByte('\t')
	case 'r':
		val.WriteByte('\r')
	case '"', '\\', '$', '\'':
		val.WriteByte(c)
	default:
		val.WriteByte('\\')
		val.WriteByte(c)
	}
}

// unquotedEnvValue is the value of an unquoted entry's rest of line: up to an
// inline comment (a '#' after a space or tab), without trailing spaces.
func unquotedEnvValue(line []byte) string {
	raw := bytes.TrimRight(line, "\r\n")
	v := raw
	for k := 1; k < len(raw); k++ {
		if raw[k] == '#' && isSpace(raw[k-1]) {
			v = raw[:k]
			break
		}
	}
	return string(bytes.TrimRight(v, " \t"))
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
