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

func mergeTOML(template, current []byte, opts Options, rep *Report) ([]byte, error) {
	t, err := parseTOML(opts.TemplateName, template)
	if err != nil {
		return nil, err
	}
	if err := validateTOML(opts.TemplateName, template); err != nil {
		return nil, err
	}
	u, err := parseTOML(opts.CurrentName, current)
	if err != nil {
		return nil, err
	}
	if err := validateTOML(opts.CurrentName, current); err != nil {
		return nil, err
	}

	var edits []edit
	typeChanged := map[string]bool{}
	addTC := func(key, tmpl, cur string) {
		if !typeChanged[key] {
			typeChanged[key] = true
			rep.TypeChanged = append(rep.TypeChanged, TypeChange{Key: key, Template: tmpl, Current: cur})
		}
	}

	// Plain keys, in template order.
	for _, path := range t.order {
		tl := t.leaves[path]
		ul, inUser := u.leaves[path]
		if opts.isVersionKey(path) {
			vc := &VersionChange{Key: path, To: tl.decoded}
			if inUser {
				vc.From = ul.decoded
			}
			rep.Version = vc
			continue
		}
		if !inUser {
			switch {
			case u.tables[path]:
				addTC(path, tomlTypeName(tl.kind), "table")
			case u.aots[path] != nil:
				addTC(path, tomlTypeName(tl.kind), "array of tables")
			default:
				rep.New = append(rep.New, path)
			}
			continue
		}
		if tomlTypeClass(tl.kind) != tomlTypeClass(ul.kind) {
			addTC(path, tomlTypeName(tl.kind), tomlTypeName(ul.kind))
			continue
		}
		uval := current[ul.valStart:ul.valEnd]
		if bytes.Equal(uval, template[tl.valStart:tl.valEnd]) {
			continue
		}
		rep.Changed = append(rep.Changed, path)
		edits = append(edits, edit{tl.valStart, tl.valEnd, uval})
		if ul.comment != nil && !bytes.Equal(ul.comment, tl.comment) {
			if tl.comment != nil {
				edits = append(edits, edit{tl.cStart, tl.cEnd, ul.comment})
			} else {
				edits = append(edits, edit{tl.valEnd, tl.valEnd, append([]byte(" "), ul.comment...)})
			}
		}
	}

	// Arrays of tables: the user's runs replace the template's, whole.
	for _, name := range t.aotOrder {
		tr := t.aots[name]
		ur := u.aots[name]
		if ur == nil {
			switch {
			case u.leaves[name] != nil:
				addTC(name, "array of tables", tomlTypeName(u.leaves[name].kind))
			case u.tables[name]:
				addTC(name, "array of tables", "table")
			default:
				rep.New = append(rep.New, name)
			}
			continue
		}
		if bytes.Equal(t.regionText(name), u.regionText(name)) {
			continue
		}
		rep.Changed = append(rep.Changed, name)
		for i, r := range tr {
			var text []byte
			switch {
			case i < len(ur) && i == len(tr)-1:
				for _, x := range ur[i:] {
					text = append(text, fixEOL(current[x.start:x.end], template, r.end)...)
				}
			case i < len(ur):
				text = fixEOL(current[ur[i].start:ur[i].end], template, r.end)
			}
			edits = append(edits, edit{r.start, r.end, text})
		}
	}

	// Keys only the user has.
	unknown := map[string][]*tomlLeaf{} // by the user's header
	var unknownHeaders []string
	for _, path := range u.order {
		if _, ok := t.leaves[path]; ok {
			continue
		}
		ul := u.leaves[path]
		if underTemplateValue(t, ul.parts) {
			continue // reported as a type change of the template's key
		}
		switch {
		case t.tables[path]:
			addTC(path, "table", tomlTypeName(ul.kind))
			continue
		case t.aots[path] != nil:
			addTC(path, "array of tables", tomlTypeName(ul.kind))
			continue
		}
		if !opts.KeepUnknown {
			rep.Removed = append(rep.Removed, path)
			continue
		}
		rep.KeptUnknown = append(rep.KeptUnknown, path)
		if _, ok := unknown[ul.header]; !ok {
			unknownHeaders = append(unknownHeaders, ul.header)
		}
		unknown[ul.header] = append(unknown[ul.header], ul)
	}
	var tail []byte
	for _, h := range unknownHeaders {
		var lines []byte
		for _, ul := range unknown[h] {
			end := ul.lineEnd
			lines = append(lines, bytes.TrimRight(current[ul.kvStart:end], "\r\n")...)
			lines = append(lines, '\n')
		}
		if sec, ok := t.sections[h]; ok && (h == "" || !t.isInsideAoT(h)) {
			off := sec.lastEnd
			if h == "" && sec.lastEnd == 0 {
				off = 0
			}
			edits = append(edits, edit{off, off, linesAt(template, off, lines)})
			continue
		}
		tail = append(tail, '\n', '[')
		tail = append(tail, joinPath(unknown[h][0].headerPart)...)
		tail = append(tail, "]\n"...)
		tail = append(tail, lines...)
	}
	for _, name := range u.aotOrder {
		if t.aots[name] != nil || underTemplateValue(t, u.parts[name]) {
			continue
		}
		if t.leaves[name] != nil || t.tables[name] {
			kind := "table"
			if l := t.leaves[name]; l != nil {
				kind = tomlTypeName(l.kind)
			}
			addTC(name, kind, "array of tables")
			continue
		}
		if !opts.KeepUnknown {
			rep.Removed = append(rep.Removed, name)
			continue
		}
		rep.KeptUnknown = append(rep.KeptUnknown, name)
		tail = append(tail, '\n')
		tail = append(tail, bytes.TrimRight(u.regionText(name), "\r\n")...)
		tail = append(tail, '\n')
	}
	if len(tail) > 0 {
		edits = append(edits, edit{len(template), len(template), linesAt(template, len(template), tail)})
	}

	out := applyEdits(template, edits)
	if err := validateTOML("merged output", out); err != nil {
		if opts.KeepUnknown && len(rep.KeptUnknown) > 0 {
			return nil, fmt.Errorf("keeping unknown keys %s would make invalid TOML: %w",
				strings.Join(rep.KeptUnknown, ", "), err)
		}
		return nil, fmt.Errorf("internal error: merged TOML does not parse: %w", err)
	}
	return out, nil
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
