package config

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	toml "github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// tomlLeaf is one key = value outside arrays of tables, addressed by its full
// dotted path (table header + key).
type tomlLeaf struct {
	path       string
	parts      []string
	kind       unstable.Kind
	kvStart    int // first byte of the key
	valStart   int // first byte of the value
	valEnd     int // one past the value's last byte
	lineEnd    int // one past the line's newline (or len(data))
	comment    []byte
	cStart     int
	cEnd       int
	decoded    string // strings: the decoded value; others: the raw text
	header     string // path of the [table] the line sits under ("" = root)
	headerPart []string
}

// tomlRegion is a run of [[name]] elements (with their sub-tables) in the text.
type tomlRegion struct {
	start int // line start of the first [[name]] header
	end   int // one past the last line that belongs to the run
}

type tomlSection struct {
	headerEnd int // one past the header line (or 0 for root)
	lastEnd   int // one past the last key/value line (headerEnd when none)
}

type tomlDoc struct {
	data     []byte
	leaves   map[string]*tomlLeaf
	order    []string
	tables   map[string]bool          // every path that is a table (explicit, implicit, dotted)
	sections map[string]*tomlSection  // explicit [table] headers and the root ("")
	aots     map[string][]*tomlRegion // arrays of tables, their runs in order
	aotOrder []string
	parts    map[string][]string // path -> key parts, for tables and aots
}

var bareKey = func() [256]bool {
	var t [256]bool
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	t['-'], t['_'] = true, true
	return t
}()

// keyPart renders one key part as TOML: bare when it can be, else a basic string.
func keyPart(s string) string {
	ok := s != ""
	for i := 0; i < len(s) && ok; i++ {
		ok = bareKey[s[i]]
	}
	if ok {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func joinPath(parts []string) string {
	s := make([]string, len(parts))
	for i, p := range parts {
		s[i] = keyPart(p)
	}
	return strings.Join(s, ".")
}

func hasPrefixParts(parts, prefix []string) bool {
	if len(prefix) > len(parts) {
		return false
	}
	for i := range prefix {
		if parts[i] != prefix[i] {
			return false
		}
	}
	return true
}

func keyParts(it unstable.Iterator) (parts []string, last *unstable.Node) {
	for it.Next() {
		n := it.Node()
		parts = append(parts, string(n.Data))
		last = n
	}
	return parts, last
}

func lineEndAfter(data []byte, off int) int {
	if i := bytes.IndexByte(data[off:], '\n'); i >= 0 {
		return off + i + 1
	}
	return len(data)
}

func lineStartBefore(data []byte, off int) int {
	return bytes.LastIndexByte(data[:off], '\n') + 1
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

// commentTail returns how far a run of [[array]] elements extends past its last
// expression (at end): comment lines after it belong to the run unless they sit
// directly (no blank line between) on the next header at next.
func commentTail(data []byte, end, next int) int {
	out := end
	pos := end
	for pos < next {
		le := lineEndAfter(data, pos)
		if le > next {
			le = next
		}
		line := bytes.TrimSpace(data[pos:le])
		switch {
		case len(line) == 0:
			// blank: the comments before it (if any) belong to the run
		case line[0] == '#':
			// a comment: it belongs to the run only if a blank line (or EOF)
			// follows the comment block.
			j := le
			for j < next {
				lj := lineEndAfter(data, j)
				if lj > next {
					lj = next
				}
				t := bytes.TrimSpace(data[j:lj])
				if len(t) == 0 || t[0] != '#' {
					break
				}
				j = lj
			}
			if j >= next && next < len(data) {
				return out // the block sits on the next header
			}
			if j < next || next == len(data) {
				out = j
			}
			pos = j
			continue
		}
		pos = le
	}
	return out
}

func tomlParseError(name string, data []byte, err error) error {
	var perr *unstable.ParserError
	if errors.As(err, &perr) {
		off := len(data)
		if h := perr.Highlight; h != nil {
			if o := cap(data) - cap(h); o >= 0 && o <= len(data) {
				off = o
			}
		}
		line, col := lineCol(data, off)
		return &ParseError{File: name, Format: TOML, Line: line, Column: col, Msg: perr.Message, Err: err}
	}
	var derr *toml.DecodeError
	if errors.As(err, &derr) {
		row, col := derr.Position()
		msg := derr.Error()
		if k := derr.Key(); len(k) > 0 {
			msg += " (key " + joinPath(k) + ")"
		}
		return &ParseError{File: name, Format: TOML, Line: row, Column: col, Msg: msg, Err: err}
	}
	return &ParseError{File: name, Format: TOML, Line: 1, Column: 1, Msg: err.Error(), Err: err}
}

// validateTOML runs go-toml's full decoder, which also rejects duplicate keys,
// redefined tables and invalid dates that the streaming parser lets through.
func validateTOML(name string, data []byte) error {
	var v map[string]any
	if err := toml.Unmarshal(data, &v); err != nil {
		return tomlParseError(name, data, err)
	}
	return nil
}

// parseTOML reads a TOML text into the leaves, tables and arrays of tables the
// merge works on, with the byte offsets of each. go-toml's streaming parser does
// the lexing (strings of every kind, arrays, inline tables, dates); tomlReader
// records each expression it yields, one method per construct.
func parseTOML(name string, data []byte) (*tomlDoc, error) {
	r := &tomlReader{d: &tomlDoc{
		data:     data,
		leaves:   map[string]*tomlLeaf{},
		tables:   map[string]bool{},
		sections: map[string]*tomlSection{"": {}},
		aots:     map[string][]*tomlRegion{},
		parts:    map[string][]string{},
	}}
	p := unstable.Parser{KeepComments: true}
	p.Reset(data)
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Comment:
			// a comment line stays in the text; there is nothing to record
		case unstable.Table, unstable.ArrayTable:
			r.header(e)
		case unstable.KeyValue:
			r.keyValue(e)
		}
	}
	if err := p.Error(); err != nil {
		return nil, tomlParseError(name, data, err)
	}
	r.closeRegion(len(data))
	return r.d, nil
}

// tomlReader is parseTOML's state between expressions: the [table] the next
// key/value lines belong to, and the run of an array of tables it is inside.
type tomlReader struct {
	d        *tomlDoc
	cur      []string // current [table] path
	curName  string
	aotParts []string // the array of tables whose run we are in (nil: none)
	region   *tomlRegion
	lastEnd  int // one past the last expression line
}

// markTables records the first n prefixes of parts as tables (the implicit
// parents of a header or of a dotted key).
func (r *tomlReader) markTables(parts []string, n int) {
	for i := 1; i <= n; i++ {
		p := joinPath(parts[:i])
		r.d.tables[p] = true
		if _, ok := r.d.parts[p]; !ok {
			r.d.parts[p] = append([]string(nil), parts[:i]...)
		}
	}
}

// closeRegion ends the run of an array of tables (if one is open) before the
// line at next, taking the comment lines that belong to it.
func (r *tomlReader) closeRegion(next int) {
	if r.region != nil {
		r.region.end = commentTail(r.d.data, r.lastEnd, next)
		r.region = nil
		r.aotParts = nil
	}
}

// header reads a [table] or [[array]] header line. Inside the run of an array of
// tables, another [[element]] of it or a sub-table of an element only extends the
// run; any other header closes the run.
func (r *tomlReader) header(e *unstable.Node) {
	data := r.d.data
	parts, last := keyParts(e.Key())
	first := e.Child()
	ls := lineStartBefore(data, int(first.Raw.Offset))
	le := lineEndAfter(data, int(last.Raw.Offset+last.Raw.Length))
	path := joinPath(parts)
	inRun := r.aotParts != nil && hasPrefixParts(parts, r.aotParts) &&
		(len(parts) > len(r.aotParts) || e.Kind == unstable.ArrayTable)
	if inRun {
		r.lastEnd = le
		return
	}
	r.closeRegion(ls)
	r.markTables(parts, len(parts)-1)
	if e.Kind == unstable.ArrayTable {
		r.arrayTable(path, parts, ls)
	} else {
		r.table(path, parts, le)
	}
	r.lastEnd = le
}

// arrayTable opens the run of [[path]] elements starting on the line at ls.
func (r *tomlReader) arrayTable(path string, parts []string, ls int) {
	if _, ok := r.d.aots[path]; !ok {
		r.d.aotOrder = append(r.d.aotOrder, path)
		r.d.parts[path] = parts
	}
	r.region = &tomlRegion{start: ls}
	r.d.aots[path] = append(r.d.aots[path], r.region)
	r.aotParts = parts
}

// table makes [path] (its header line ending at le) the table the next
// key/value lines belong to.
func (r *tomlReader) table(path string, parts []string, le int) {
	r.d.tables[path] = true
	r.d.parts[path] = parts
	r.cur, r.curName = parts, path
	r.d.sections[path] = &tomlSection{headerEnd: le, lastEnd: le}
}

// keyValue reads a key = value line (a value may span lines) as a leaf under
// the current table; inside the run of an array of tables it only extends the
// run, which the merge takes whole.
func (r *tomlReader) keyValue(e *unstable.Node) {
	parts, last := keyParts(e.Key())
	valEnd := int(e.Raw.Offset + e.Raw.Length)
	le := lineEndAfter(r.d.data, valEnd)
	r.lastEnd = le
	if r.region != nil {
		return
	}
	full := append(append([]string(nil), r.cur...), parts...)
	r.markTables(full, len(full)-1)
	l := r.leaf(e, full, last, le)
	r.d.leaves[l.path] = l
	r.d.order = append(r.d.order, l.path)
	r.d.sections[r.curName].lastEnd = le
}

// leaf describes the key/value expression e, whose key's last part is lastKey
// and whose line ends at le: where its key, value and trailing comment sit, and
// its value (decoded for strings, the raw text for every other kind).
func (r *tomlReader) leaf(e *unstable.Node, full []string, lastKey *unstable.Node, le int) *tomlLeaf {
	data := r.d.data
	val := e.Value()
	valEnd := int(e.Raw.Offset + e.Raw.Length)
	vs := int(lastKey.Raw.Offset + lastKey.Raw.Length)
	for vs < len(data) && (isSpace(data[vs]) || data[vs] == '=') {
		vs++
	}
	l := &tomlLeaf{
		path: joinPath(full), parts: full, kind: val.Kind, kvStart: int(e.Raw.Offset), valStart: vs, valEnd: valEnd,
		lineEnd: le, header: r.curName, headerPart: r.cur,
	}
	if val.Kind == unstable.String {
		l.decoded = string(val.Data)
	} else {
		l.decoded = string(data[vs:valEnd])
	}
	if c := e.Next(); c != nil && c.Kind == unstable.Comment {
		l.comment = c.Data
		l.cStart = int(c.Raw.Offset)
		l.cEnd = l.cStart + int(c.Raw.Length)
	}
	return l
}

func (d *tomlDoc) regionText(name string) []byte {
	var b []byte
	for _, r := range d.aots[name] {
		b = append(b, d.data[r.start:r.end]...)
	}
	return b
}

func tomlTypeName(k unstable.Kind) string {
	switch k {
	case unstable.String:
		return "string"
	case unstable.Bool:
		return "bool"
	case unstable.Integer:
		return "integer"
	case unstable.Float:
		return "float"
	case unstable.Array:
		return "array"
	case unstable.InlineTable:
		return "inline table"
	case unstable.LocalDate:
		return "local date"
	case unstable.LocalTime:
		return "local time"
	case unstable.LocalDateTime:
		return "local date-time"
	case unstable.DateTime:
		return "offset date-time"
	}
	return k.String()
}

func tomlTypeClass(k unstable.Kind) string {
	switch k {
	case unstable.Integer, unstable.Float:
		return "number"
	case unstable.LocalDate, unstable.LocalTime, unstable.LocalDateTime, unstable.DateTime:
		return "datetime"
	}
	return tomlTypeName(k)
}
