package config

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Report says how a merge changed one file. Key paths are dotted
// ("bot.nickname"); parts that are not bare keys are quoted.
type Report struct {
	File   string `json:"file"`
	Format Format `json:"format"`
	// Action is "merge" (default) or "copy-template" when there was no current file.
	Action string `json:"action,omitempty"`
	// Version is set when the template has a version key.
	Version *VersionChange `json:"version,omitempty"`
	// New: keys only the template has; they get its defaults.
	New []string `json:"new"`
	// Removed: keys only the current file has, not written (kept in the backup).
	Removed []string `json:"removed"`
	// TypeChanged: keys whose user value has another type than the template's
	// default; the default was written.
	TypeChanged []TypeChange `json:"type_changed"`
	// KeptUnknown: keys only the current file has, written anyway (KeepUnknown,
	// or dotenv).
	KeptUnknown []string `json:"kept_unknown"`
	// Changed: keys where the user's value, which differs from the template's
	// default, was carried over.
	Changed []string `json:"changed"`
}

// VersionChange is the version key's value before and after the merge.
type VersionChange struct {
	Key  string `json:"key"`
	From string `json:"from"` // the current file's value ("" when it had none)
	To   string `json:"to"`   // the template's value
}

// TypeChange is a key whose user value was replaced by the template's default
// because the types differ.
type TypeChange struct {
	Key      string `json:"key"`
	Template string `json:"template"` // type of the template's default
	Current  string `json:"current"`  // type of the user's value
}

// HasDifferences reports whether the template and the current file disagreed
// on anything besides carried-over values.
func (r Report) HasDifferences() bool {
	return len(r.New)+len(r.Removed)+len(r.TypeChanged)+len(r.KeptUnknown) > 0 ||
		(r.Version != nil && r.Version.From != r.Version.To) || r.Action == "copy-template"
}

// Text renders the report for people.
func (r Report) Text() string {
	var b strings.Builder
	name := r.File
	if name == "" {
		name = "(config)"
	}
	fmt.Fprintf(&b, "%s (%s)", name, r.Format)
	if r.Action == "copy-template" {
		b.WriteString(": no current file, template copied\n")
		return b.String()
	}
	b.WriteString("\n")
	if r.Version != nil {
		if r.Version.From == r.Version.To {
			fmt.Fprintf(&b, "  version %s: %s (unchanged)\n", r.Version.Key, r.Version.To)
		} else {
			from := r.Version.From
			if from == "" {
				from = "(none)"
			}
			fmt.Fprintf(&b, "  version %s: %s -> %s\n", r.Version.Key, from, r.Version.To)
		}
	}
	list := func(title string, keys []string) {
		if len(keys) == 0 {
			return
		}
		fmt.Fprintf(&b, "  %s (%d):\n", title, len(keys))
		for _, k := range keys {
			fmt.Fprintf(&b, "    %s\n", k)
		}
	}
	list("new keys, template default", r.New)
	list("removed keys, not written (kept in the backup)", r.Removed)
	if len(r.TypeChanged) > 0 {
		fmt.Fprintf(&b, "  type changed, template default written (%d):\n", len(r.TypeChanged))
		for _, t := range r.TypeChanged {
			fmt.Fprintf(&b, "    %s: yours %s, template %s\n", t.Key, t.Current, t.Template)
		}
	}
	list("unknown keys kept", r.KeptUnknown)
	fmt.Fprintf(&b, "  your values carried over: %d\n", len(r.Changed))
	return b.String()
}

// JSON renders the report as one JSON object.
func (r Report) JSON() ([]byte, error) {
	c := r
	c.normalize()
	return json.Marshal(c)
}

// WriteReports writes reports as text (one block per file) or, with format
// "json", as a JSON array.
func WriteReports(w io.Writer, reports []Report, format string) error {
	switch format {
	case "", "text":
		for _, r := range reports {
			if _, err := io.WriteString(w, r.Text()); err != nil {
				return err
			}
		}
		return nil
	case "json":
		norm := make([]Report, len(reports))
		for i, r := range reports {
			r.normalize()
			norm[i] = r
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(norm)
	}
	return fmt.Errorf("unknown report format %q (want text or json)", format)
}
