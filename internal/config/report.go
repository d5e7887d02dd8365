package config

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/docker-maim/docker-maim/internal/api"
)

// Report says how a merge changed one file (api.ConfigReport: its JSON, its text for
// people, HasDifferences). Key paths are dotted ("bot.nickname"); parts that are not bare
// keys are quoted.
type Report = api.ConfigReport

// VersionChange is the version key's value before and after the merge.
type VersionChange = api.ConfigVersionChange

// TypeChange is a key whose user value was replaced by the template's default
// because the types differ.
type TypeChange = api.ConfigTypeChange

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
			r.Normalize()
			norm[i] = r
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(norm)
	}
	return fmt.Errorf("unknown report format %q (want text or json)", format)
}
