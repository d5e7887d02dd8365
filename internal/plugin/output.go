package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// SchemaVersion is the version of the JSON documents every command prints with
// --format json (docs/json.md). It changes when a field is removed or changes meaning;
// new fields do not change it.
const SchemaVersion = 1

// jsonError is the "error" member of a JSON document: the exit code and the message.
type jsonError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// writeDoc writes one JSON document: {"schema_version":N, <v's members>, "error":{..}}.
// v must marshal to an object (or be nil); err, when not nil, adds "error" with the
// exit code the process ends with.
func writeDoc(w io.Writer, v any, err error) error {
	var body []byte
	if v != nil {
		b, merr := json.Marshal(v)
		if merr != nil {
			return merr
		}
		body = b
	}
	return writeRawDoc(w, body, err)
}

// writeRawDoc is writeDoc for an object already marshalled (nil or "{}": no members).
func writeRawDoc(w io.Writer, obj []byte, err error) error {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, `{"schema_version":%d`, SchemaVersion)
	obj = bytes.TrimSpace(obj)
	if len(obj) > 0 && !bytes.Equal(obj, []byte("null")) {
		if obj[0] != '{' || obj[len(obj)-1] != '}' {
			return fmt.Errorf("JSON document is not an object: %.40s", obj)
		}
		if inner := bytes.TrimSpace(obj[1 : len(obj)-1]); len(inner) > 0 {
			buf.WriteByte(',')
			buf.Write(inner)
		}
	}
	if err != nil {
		e, merr := json.Marshal(jsonError{Code: exitCode(err), Message: errorLine(err)})
		if merr != nil {
			return merr
		}
		buf.WriteString(`,"error":`)
		buf.Write(e)
	}
	buf.WriteByte('}')
	var out bytes.Buffer
	if ierr := json.Indent(&out, buf.Bytes(), "", "  "); ierr != nil {
		return ierr
	}
	out.WriteByte('\n')
	_, werr := w.Write(out.Bytes())
	return werr
}

// reportedError is an error a command already wrote into its JSON document: the
// process still ends with its exit code, but no second document is written.
type reportedError struct{ error }

func (r reportedError) Unwrap() error { return r.error }

// printJSON writes the document of a command's result and error, and returns the error
// marked as reported.
func printJSON(w io.Writer, v any, err error) error {
	if werr := writeDoc(w, v, err); werr != nil {
		return errors.Join(err, werr)
	}
	if err != nil {
		return reportedError{err}
	}
	return nil
}
