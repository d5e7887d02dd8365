package composefile

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/compose-spec/compose-go/v2/template"
)

// expand interpolates a compose value exactly as compose does.
func expand(t string, lookup func(string) (string, bool)) (string, error) {
	return template.SubstituteWithOptions(t, template.Mapping(lookup), template.WithoutLogging)
}

// part is a piece of a compose value: literal text, or one variable expression.
type part struct {
	raw   string // the text as written
	start int    // byte offset of raw in the value
	lit   string // literal text it stands for (name == "")
	name  string // variable name
	op    string // "", ":-", "-", ":?", "?", ":+", "+"
	arg   string // default or message after op
	argAt int    // byte offset of arg in the value
}

var nameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*`)

// parseTemplate splits a compose value into literals and variable expressions. Nested
// expressions (a default that uses a variable) are refused.
func parseTemplate(t string) ([]part, error) {
	var parts []part
	litStart := 0
	flush := func(end int) {
		if end > litStart {
			raw := t[litStart:end]
			parts = append(parts, part{raw: raw, start: litStart, lit: strings.ReplaceAll(raw, "$$", "$")})
		}
	}
	for i := 0; i < len(t); {
		if t[i] != '$' {
			i++
			continue
		}
		if i+1 < len(t) && t[i+1] == '$' {
			i += 2
			continue
		}
		if i+1 < len(t) && t[i+1] == '{' {
			end := strings.IndexByte(t[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("%q: unclosed ${", t)
			}
			body := t[i+2 : i+end]
			if strings.ContainsAny(body, "${") {
				return nil, fmt.Errorf("%q: a nested variable expression", t)
			}
			name := nameRe.FindString(body)
			if name == "" {
				return nil, fmt.Errorf("%q: bad variable name in ${%s}", t, body)
			}
			rest := body[len(name):]
			p := part{raw: t[i : i+end+1], start: i, name: name}
			if rest != "" {
				for _, op := range []string{":-", ":?", ":+", "-", "?", "+"} {
					if strings.HasPrefix(rest, op) {
						p.op, p.arg = op, rest[len(op):]
						p.argAt = i + 2 + len(name) + len(op)
						break
					}
				}
				if p.op == "" {
					return nil, fmt.Errorf("%q: bad expression ${%s}", t, body)
				}
			}
			flush(i)
			parts = append(parts, p)
			i += end + 1
			litStart = i
			continue
		}
		name := nameRe.FindString(t[i+1:])
		if name == "" {
			return nil, fmt.Errorf("%q: a lone $ (write $$)", t)
		}
		flush(i)
		parts = append(parts, part{raw: t[i : i+1+len(name)], start: i, name: name})
		i += 1 + len(name)
		litStart = i
	}
	flush(len(t))
	return parts, nil
}

// value is what a part stands for now.
func (p part) value(lookup func(string) (string, bool)) string {
	if p.name == "" {
		return p.lit
	}
	v, set := lookup(p.name)
	switch p.op {
	case ":-":
		if !set || v == "" {
			return p.arg
		}
	case "-":
		if !set {
			return p.arg
		}
	case ":+":
		if set && v != "" {
			return p.arg
		}
		return ""
	case "+":
		if set {
			return p.arg
		}
		return ""
	}
	return v
}

// imageValue is a service's image value as its compose file writes it: what editFor
// changes, by one variable, one literal part, or the whole value.
type imageValue struct {
	f     *file
	at    int    // byte offset of the value's text in f
	text  string // the value as written
	parts []part
	vals  []string // what each part stands for now
	cur   string   // the reference the value stands for now
	exprs int      // how many of the parts are variable expressions
	// shared is why the value's own bytes must not be edited (it is shared with other
	// nodes: an anchor, an alias, a mapping merged through <<), nil when they may.
	shared error
}

// editFor works out the one edit that makes svc's image ref (nil: it already is).
func (st *state) editFor(svc, ref string) (*Edit, error) {
	v, err := st.imageValue(svc)
	if err != nil {
		return nil, err
	}
	if v.cur == ref {
		return nil, nil
	}
	base := Edit{Services: []string{svc}, OldRef: v.cur, NewRef: ref}
	if v.exprs == 0 {
		return v.rewrite(base, ref)
	}
	e, whyNot := st.variableEdit(v, base, ref)
	if e != nil {
		return e, nil
	}
	if whyNot == nil {
		if e, whyNot, err = v.literalEdit(base, ref); e != nil || err != nil {
			return e, err
		}
	}
	if whyNot != nil {
		return nil, fmt.Errorf("its image is %q: %w", v.text, whyNot)
	}
	return nil, fmt.Errorf("its image is %q (now %q): %q cannot be written by changing one variable or one literal part of it", v.text, v.cur, ref)
}

// imageValue finds svc's image value in the compose files and works out what it stands
// for now.
func (st *state) imageValue(svc string) (*imageValue, error) {
	f, loc := st.find(svc)
	if loc == nil {
		return nil, fmt.Errorf("no compose file of the project sets services.%s.image (extends and include are not followed)", svc)
	}
	v := &imageValue{f: f}
	// A value other nodes share must not have its own bytes edited; a variable it uses may
	// be set in an env file: Plan's read-back proves that no other service's image moves
	// with it.
	if why := shared(f, svc, loc); why != "" {
		v.shared = fmt.Errorf("%s: change it by hand", why)
	}
	s := loc.scalar()
	at, err := content(f, s)
	if err != nil {
		return nil, err
	}
	parts, err := parseTemplate(s.Value)
	if err != nil {
		return nil, err
	}
	v.at, v.text, v.parts = at, s.Value, parts
	lookup := st.lookup(st.vals)
	v.vals = make([]string, len(parts))
	for i, p := range parts {
		v.vals[i] = p.value(lookup)
		v.cur += v.vals[i]
		if p.name != "" {
			v.exprs++
		}
	}
	return v, nil
}

// standsFor is what part k must stand for so that the value stands for ref, the other
// parts as they are (false: no text does).
func (v *imageValue) standsFor(k int, ref string) (string, bool) {
	prefix, suffix := strings.Join(v.vals[:k], ""), strings.Join(v.vals[k+1:], "")
	if len(ref) < len(prefix)+len(suffix) || !strings.HasPrefix(ref, prefix) || !strings.HasSuffix(ref, suffix) {
		return "", false
	}
	return ref[len(prefix) : len(ref)-len(suffix)], true
}

// variableEdit tries each variable of the value, the last first (a tag is usually at the
// end): the edit that makes it stand for its part of ref (varEdit), else why the last one
// tried cannot (nil: none could hold the change).
func (st *state) variableEdit(v *imageValue, base Edit, ref string) (*Edit, error) {
	var whyNot error
	for k := len(v.parts) - 1; k >= 0; k-- {
		p := v.parts[k]
		if p.name == "" {
			continue
		}
		nv, ok := v.standsFor(k, ref)
		if !ok {
			continue
		}
		e, err := st.varEdit(v.f, v.at, p, nv)
		if err == nil && e.File == v.f.path && v.shared != nil {
			err = v.shared // the default, in the shared value
		}
		if err != nil {
			whyNot = err
			continue
		}
		e.Services, e.OldRef, e.NewRef = base.Services, base.OldRef, base.NewRef
		return e, nil
	}
	return nil, whyNot
}

// literalEdit keeps the variables and changes the text written around them (a tag after
// ${REGISTRY}/name:, as in image: ${REGISTRY}/app:1.2): the image value is rewritten with
// only that literal changed. It is tried only when no variable could have held the change
// (the literal next to one that cannot be set would take over its part of the reference).
// whyNot is why the literal that could hold the change cannot; err refuses the edit
// outright (a shared value).
func (v *imageValue) literalEdit(base Edit, ref string) (e *Edit, whyNot, err error) {
	for k := len(v.parts) - 1; k >= 0; k-- {
		p := v.parts[k]
		if p.name != "" || p.raw != p.lit {
			continue
		}
		nv, ok := v.standsFor(k, ref)
		if !ok {
			continue
		}
		if v.shared != nil {
			return nil, nil, v.shared
		}
		if strings.ContainsAny(nv, "$\"'\\ \t\r\n") {
			return nil, fmt.Errorf("%q holds $, a quote, a backslash or a space", nv), nil
		}
		return v.imageEdit(base, v.text[:p.start]+nv+v.text[p.start+len(p.raw):]), nil, nil
	}
	return nil, nil, nil
}

// rewrite replaces a value without variables by ref.
func (v *imageValue) rewrite(base Edit, ref string) (*Edit, error) {
	if v.shared != nil {
		return nil, v.shared
	}
	if strings.Contains(ref, "$") {
		return nil, fmt.Errorf("the reference %q holds a $", ref)
	}
	return v.imageEdit(base, ref), nil
}

// imageEdit is the edit that writes text as the image value.
func (v *imageValue) imageEdit(base Edit, text string) *Edit {
	e := base
	e.File, e.What, e.Old, e.New, e.offset = v.f.path, "image", v.text, text, v.at
	e.Line, e.Column = lineCol(v.f.b, v.at)
	return &e
}

// varEdit is the edit that makes expression p of the image scalar (text at byte at of
// compose file f) stand for v: the variable's value in the env file that sets it, or the
// expression's default when the variable is set nowhere.
func (st *state) varEdit(f *file, at int, p part, v string) (*Edit, error) {
	switch p.op {
	case ":+", "+":
		return nil, fmt.Errorf("${%s%s...} is not a value that can be set", p.name, p.op)
	}
	if strings.ContainsAny(v, "${}") {
		return nil, fmt.Errorf("%q holds $, { or }", v)
	}
	if _, ok := st.src.shell(p.name); ok {
		return nil, fmt.Errorf("%s is set in the environment of this shell, which wins over the files: change it there", p.name)
	}
	if v == "" && p.op == ":-" {
		return nil, fmt.Errorf("%s would have to be empty, which ${%s:-...} replaces by its default", p.name, p.name)
	}
	for i := len(st.env) - 1; i >= 0; i-- {
		ef := st.env[i]
		def, err := findVar(ef.b, p.name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ef.path, err)
		}
		if def == nil {
			continue
		}
		if err := def.canHold(v); err != nil {
			return nil, fmt.Errorf("%s:%d: %s: %w", ef.path, def.line, p.name, err)
		}
		e := &Edit{File: ef.path, What: "variable " + p.name, Old: def.value, New: v, offset: def.offset}
		e.Line, e.Column = lineCol(ef.b, def.offset)
		return e, nil
	}
	if p.op != ":-" && p.op != "-" {
		return nil, fmt.Errorf("%s is set in no env file of the project and ${%s} has no default", p.name, p.name)
	}
	off := at + p.argAt
	e := &Edit{File: f.path, What: "default of " + p.name, Old: p.arg, New: v, offset: off}
	e.Line, e.Column = lineCol(f.b, off)
	return e, nil
}

// lineCol is the 1-based line and (rune) column of byte offset off.
func lineCol(b []byte, off int) (int, int) {
	line, start := 1, 0
	for i := 0; i < off && i < len(b); i++ {
		if b[i] == '\n' {
			line++
			start = i + 1
		}
	}
	return line, len([]rune(string(b[start:off]))) + 1
}
