package config

import (
	"errors"
	"fmt"
)

// ParseError is returned when a template or current config does not parse.
// It names the file (Options.TemplateName / Options.CurrentName), the 1-based
// line and column of the problem, and what was wrong. Column is 0 only for
// YAML syntax errors, for which the YAML library reports just the line.
type ParseError struct {
	File   string
	Format Format
	Line   int
	Column int
	Msg    string
	Err    error // underlying parser error, if any
}

func (e *ParseError) Error() string {
	file := e.File
	if file == "" {
		file = "<input>"
	}
	if e.Column <= 0 { // YAML syntax errors carry only a line
		return fmt.Sprintf("%s:%d: invalid %s: %s", file, e.Line, e.Format, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: invalid %s: %s", file, e.Line, e.Column, e.Format, e.Msg)
}

func (e *ParseError) Unwrap() error { return e.Err }

// ErrUnsupportedFormat is returned for a format Merge does not know.
var ErrUnsupportedFormat = errors.New("unsupported config format")

// lineCol converts a byte offset in data to a 1-based line and column; the
// column counts characters (UTF-8 sequences), as editors show them.
func lineCol(data []byte, offset int) (line, col int) {
	if offset > len(data) {
		offset = len(data)
	}
	if offset < 0 {
		offset = 0
	}
	line, col = 1, 1
	for _, r := range string(data[:offset]) {
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}
