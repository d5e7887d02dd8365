package config

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

type edit struct {
	start, end int
	text       []byte
}

func applyEdits(data []byte, edits []edit) []byte {
	sort.SliceStable(edits, func(i, j int) bool { return edits[i].start < edits[j].start })
	out := make([]byte, 0, len(data)+len(data)/4)
	pos := 0
	for _, e := range edits {
		if e.start < pos { // overlapping edits are a bug; keep output sane
			continue
		}
		out = append(out, data[pos:e.start]...)
		out = append(out, e.text...)
		pos = e.end
	}
	return append(out, data[pos:]...)
}

// linesAt returns text to insert at off so that it starts on a fresh line.
func linesAt(data []byte, off int, text []byte) []byte {
	if off > 0 && data[off-1] != '\n' {
		return append([]byte("\n"), text...)
	}
	return text
}

// mergeTOML rewrites the template with the user's values: each template key the
// user changed, each array of tables the user has, and (with KeepUnknown) the
// keys and arrays of tables only the user has. Everything else in the template
// (comments, order, layout) stays as it is.
func mergeTOML(template, current []byte, opts Options, rep *Report) ([]byte, error) {
	t, err := readTOML(opts.TemplateName, template)
	if err != nil {
		return nil, err
	}
	u, err := readTOML(opts.CurrentName, current)
	if err != nil {
		return nil, err
	}
	m := &tomlMerge{t: t, u: u, template: template, current: current, opts: opts, rep: rep, typeChanged: map[string]bool{}}
	for _, path := range t.order {
		m.templateKey(path)
	}
	for _, name := range t.aotOrder {
		m.templateArray(name)
	}
	m.userKeys()
	for _, name := range u.aotOrder {
		m.userArray(name)
	}
	if len(m.tail) > 0 {
		m.edits = append(m.edits, edit{len(template), len(template), linesAt(template, len(template), m.tail)})
	}

	out := applyEdits(template, m.edits)
	if err := validateTOML("merged output", out); err != nil {
		if opts.KeepUnknown && len(rep.KeptUnknown) > 0 {
			return nil, fmt.Errorf("keeping unknown keys %s would make invalid TOML: %w",
				strings.Join(rep.KeptUnknown, ", "), err)
		}
		return nil, fmt.Errorf("internal error: merged TOML does not parse: %w", err)
	}
	return out, nil
}

// readTOML parses a TOML text for the merge and checks it with go-toml's full
// decoder.
func readTOML(name string, data []byte) (*tomlDoc, error) {
	d, err := parseTOML(name, data)
	if err != nil {
		return nil, err
	}
	if err := validateTOML(name, data); err != nil {
		return nil, err
	}
	return d, nil
}

// tomlMerge is one mergeTOML run: the parsed template (t) and user file (u),
// the edits to the template it collects and the report it fills.
type tomlMerge struct {
	t, u              *tomlDoc
	template, current []byte
	opts              Options
	rep               *Report
	edits             []edit
	typeChanged       map[string]bool
	tail              []byte // text for the template's end: tables only the user has
}

// typeChange reports key (once) as a value of another type in the two files.
func (m *tomlMerge) typeChange(key, tmpl, cur string) {
	if !m.typeChanged[key] {
		m.typeChanged[key] = true
		m.rep.TypeChanged = append(m.rep.TypeChanged, TypeChange{Key: key, Template: tmpl, Current: cur})
	}
}

// templateKey merges the template's plain key at path: the version key is
// reported, a key the user lacks is new, and a user value of the same type class
// replaces the template's, with the user's trailing comment.
func (m *tomlMerge) templateKey(path string) {
	t, u, rep := m.t, m.u, m.rep
	tl := t.leaves[path]
	ul, inUser := u.leaves[path]
	if m.opts.isVersionKey(path) {
		vc := &VersionChange{Key: path, To: tl.decoded}
		if inUser {
			vc.From = ul.decoded
		}
		rep.Version = vc
		return
	}
	if !inUser {
		switch {
		case u.tables[path]:
			m.typeChange(path, tomlTypeName(tl.kind), "table")
		case u.aots[path] != nil:
			m.typeChange(path, tomlTypeName(tl.kind), "array of tables")
		default:
			rep.New = append(rep.New, path)
		}
		return
	}
	if tomlTypeClass(tl.kind) != tomlTypeClass(ul.kind) {
		m.typeChange(path, tomlTypeName(tl.kind), tomlTypeName(ul.kind))
		return
	}
	uval := m.current[ul.valStart:ul.valEnd]
	if bytes.Equal(uval, m.template[tl.valStart:tl.valEnd]) {
		return
	}
	rep.Changed = append(rep.Changed, path)
	m.edits = append(m.edits, edit{tl.valStart, tl.valEnd, uval})
	if ul.comment != nil && !bytes.Equal(ul.comment, tl.comment) {
		if tl.comment != nil {
			m.edits = append(m.edits, edit{tl.cStart, tl.cEnd, ul.comment})
		} else {
			m.edits = append(m.edits, edit{tl.valEnd, tl.valEnd, append([]byte(" "), ul.comment...)})
		}
	}
}

// templateArray merges the template's array of tables name: the user's runs
// replace the template's, whole.
func (m *tomlMerge) templateArray(name string) {
	t, u, rep := m.t, m.u, m.rep
	tr := t.aots[name]
	ur := u.aots[name]
	if ur == nil {
		switch {
		case u.leaves[name] != nil:
			m.typeChange(name, "array of tables", tomlTypeName(u.leaves[name].kind))
		case u.tables[name]:
			m.typeChange(name, "array of tables", "table")
		default:
			rep.New = append(rep.New, name)
		}
		return
	}
	if bytes.Equal(t.regionText(name), u.regionText(name)) {
		return
	}
	rep.Changed = append(rep.Changed, name)
	for i, r := range tr {
		var text []byte
		switch {
		case i < len(ur) && i == len(tr)-1:
			for _, x := range ur[i:] {
				text = append(text, fixEOL(m.current[x.start:x.end], m.template, r.end)...)
			}
		case i < len(ur):
			text = fixEOL(m.current[ur[i].start:ur[i].end], m.template, r.end)
		}
		m.edits = append(m.edits, edit{r.start, r.end, text})
	}
}

// userKeys handles the plain keys only the user has; those kept go under their
// table, grouped by the user's header, in the user's order.
func (m *tomlMerge) userKeys() {
	unknown := map[string][]*tomlLeaf{} // by the user's header
	var unknownHeaders []string
	for _, path := range m.u.order {
		if _, ok := m.t.leaves[path]; ok {
			continue
		}
		ul := m.u.leaves[path]
		if !m.keepUserKey(path, ul) {
			continue
		}
		if _, ok := unknown[ul.header]; !ok {
			unknownHeaders = append(unknownHeaders, ul.header)
		}
		unknown[ul.header] = append(unknown[ul.header], ul)
	}
	for _, h := range unknownHeaders {
		m.keepUnder(h, unknown[h])
	}
}

// keepUserKey reports whether the key only the user has at path is kept: where
// the template has a table or value there it is a type change, and without
// KeepUnknown it is removed.
func (m *tomlMerge) keepUserKey(path string, ul *tomlLeaf) bool {
	t, rep := m.t, m.rep
	if underTemplateValue(t, ul.parts) {
		return false // reported as a type change of the template's key
	}
	switch {
	case t.tables[path]:
		m.typeChange(path, "table", tomlTypeName(ul.kind))
		return false
	case t.aots[path] != nil:
		m.typeChange(path, "array of tables", tomlTypeName(ul.kind))
		return false
	}
	if !m.opts.KeepUnknown {
		rep.Removed = append(rep.Removed, path)
		return false
	}
	rep.KeptUnknown = append(rep.KeptUnknown, path)
	return true
}

// keepUnder writes the kept user keys of the user's table h: after the last key
// of the template's table h when the template has it (and it is not inside an
// array of tables), else under a new [h] header at the template's end.
func (m *tomlMerge) keepUnder(h string, leaves []*tomlLeaf) {
	var lines []byte
	for _, ul := range leaves {
		end := ul.lineEnd
		lines = append(lines, bytes.TrimRight(m.current[ul.kvStart:end], "\r\n")...)
		lines = append(lines, '\n')
	}
	if sec, ok := m.t.sections[h]; ok && (h == "" || !m.t.isInsideAoT(h)) {
		off := sec.lastEnd
		if h == "" && sec.lastEnd == 0 {
			off = 0
		}
		m.edits = append(m.edits, edit{off, off, linesAt(m.template, off, lines)})
		return
	}
	m.tail = append(m.tail, '\n', '[')
	m.tail = append(m.tail, joinPath(leaves[0].headerPart)...)
	m.tail = append(m.tail, "]\n"...)
	m.tail = append(m.tail, lines...)
}

// userArray handles the user's array of tables name when the template has none:
// a type change where the template has a value or table, else removed, or (with
// KeepUnknown) kept whole at the template's end.
func (m *tomlMerge) userArray(name string) {
	t, u, rep := m.t, m.u, m.rep
	if t.aots[name] != nil || underTemplateValue(t, u.parts[name]) {
		return
	}
	if t.leaves[name] != nil || t.tables[name] {
		kind := "table"
		if l := t.leaves[name]; l != nil {
			kind = tomlTypeName(l.kind)
		}
		m.typeChange(name, kind, "array of tables")
		return
	}
	if !m.opts.KeepUnknown {
		rep.Removed = append(rep.Removed, name)
		return
	}
	rep.KeptUnknown = append(rep.KeptUnknown, name)
	m.tail = append(m.tail, '\n')
	m.tail = append(m.tail, bytes.TrimRight(u.regionText(name), "\r\n")...)
	m.tail = append(m.tail, '\n')
}

// underTemplateValue reports whether a proper prefix of parts is a template
// key or array of tables (the user has a table where the template has a value).
func underTemplateValue(t *tomlDoc, parts []string) bool {
	for i := 1; i < len(parts); i++ {
		p := joinPath(parts[:i])
		if t.leaves[p] != nil || t.aots[p] != nil {
			return true
		}
	}
	return false
}

func (d *tomlDoc) isInsideAoT(path string) bool {
	return underTemplateValue(d, d.parts[path]) || d.aots[path] != nil
}

// fixEOL makes a replacement run end with a newline when the text it replaces
// in the template did (so the next header stays on its own line).
func fixEOL(text, template []byte, end int) []byte {
	if len(text) > 0 && text[len(text)-1] != '\n' && end > 0 && template[end-1] == '\n' {
		return append(append([]byte(nil), text...), '\n')
	}
	return text
}
