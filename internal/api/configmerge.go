package api

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// ConfigFormat names a config file format.
type ConfigFormat string

// The formats MergeConfig understands.
const (
	FormatTOML   ConfigFormat = "toml"
	FormatDotenv ConfigFormat = "env"
	FormatYAML   ConfigFormat = "yaml"
	FormatJSON   ConfigFormat = "json"
)

// MergeConfigOptions tune MergeConfig.
type MergeConfigOptions struct {
	// Template is the new version's template file.
	Template string
	// Current is the config file in use now.
	Current string
	// Output, when set, is replaced atomically by the merged file (keeping owner and
	// mode); else the merged bytes are only in the result.
	Output string
	// Format of the files ("": from the file names).
	Format ConfigFormat
	// KeepUnknown keeps keys the template no longer has.
	KeepUnknown bool
	// VersionKeys are dotted keys always taken from the template. nil is the format's
	// default (inner.version for TOML); an empty non-nil slice is none.
	VersionKeys []string
}

// MergeConfigResult is a merge's output and report. Its JSON is the report's
// (ConfigReport.JSON).
type MergeConfigResult struct {
	// Merged is the merged file (also written to Output when set).
	Merged []byte `json:"-"`
	// Output is where it was written ("" for nowhere).
	Output string `json:"-"`
	// Report says how the merge changed the file.
	Report ConfigReport `json:"-"`
}

// ConfigReport says how a merge changed one config file. Key paths are dotted
// ("bot.nickname"); parts that are not bare keys are quoted.
type ConfigReport struct {
	// File is the config file (its name as given).
	File string `json:"file"`
	// Format of the file.
	Format ConfigFormat `json:"format"`
	// Action is "merge" (default) or "copy-template" when there was no current file.
	Action string `json:"action,omitempty"`
	// Version is set when the template has a version key.
	Version *ConfigVersionChange `json:"version,omitempty"`
	// New: keys only the template has; they get its defaults.
	New []string `json:"new"`
	// Removed: keys only the current file has, not written (kept in the backup).
	Removed []string `json:"removed"`
	// TypeChanged: keys whose user value has another type than the template's
	// default; the default was written.
	TypeChanged []ConfigTypeChange `json:"type_changed"`
	// KeptUnknown: keys only the current file has, written anyway (KeepUnknown,
	// or dotenv).
	KeptUnknown []string `json:"kept_unknown"`
	// Changed: keys where the user's value, which differs from the template's
	// default, was carried over.
	Changed []string `json:"changed"`
}

// ConfigVersionChange is the version key's value before and after the merge.
type ConfigVersionChange struct {
	// Key is the dotted version key.
	Key string `json:"key"`
	// From is the current file's value ("" when it had none).
	From string `json:"from"`
	// To is the template's value.
	To string `json:"to"`
}

// ConfigTypeChange is a key whose user value was replaced by the template's default
// because the types differ.
type ConfigTypeChange struct {
	// Key is the dotted key.
	Key string `json:"key"`
	// Template is the type of the template's default.
	Template string `json:"template"`
	// Current is the type of the user's value.
	Current string `json:"current"`
}

// HasDifferences reports whether the template and the current file disagreed
// on anything besides carried-over values.
func (r ConfigReport) HasDifferences() bool {
	return len(r.New)+len(r.Removed)+len(r.TypeChanged)+len(r.KeptUnknown) > 0 ||
		(r.Version != nil && r.Version.From != r.Version.To) || r.Action == "copy-template"
}

// Normalize sorts the key lists and makes absent ones empty (as JSON shows them).
func (r *ConfigReport) Normalize() {
	sort.Strings(r.New)
	sort.Strings(r.Removed)
	sort.Strings(r.KeptUnknown)
	sort.Strings(r.Changed)
	sort.Slice(r.TypeChanged, func(i, j int) bool { return r.TypeChanged[i].Key < r.TypeChanged[j].Key })
	if r.New == nil {
		r.New = []string{}
	}
	if r.Removed == nil {
		r.Removed = []string{}
	}
	if r.KeptUnknown == nil {
		r.KeptUnknown = []string{}
	}
	if r.Changed == nil {
		r.Changed = []string{}
	}
	if r.TypeChanged == nil {
		r.TypeChanged = []ConfigTypeChange{}
	}
}

// JSON renders the report as one JSON object.
func (r ConfigReport) JSON() ([]byte, error) {
	c := r
	c.Normalize()
	return json.Marshal(c)
}

// Text renders the report for people: what the CLI prints and what an upgrade keeps in
// its backup beside the JSON (config-merge.txt).
func (r ConfigReport) Text() string {
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
