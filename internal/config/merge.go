package config

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/docker-maim/docker-maim/internal/api"
)

// Format names a config file format (api.ConfigFormat).
type Format = api.ConfigFormat

// The formats Merge understands.
const (
	TOML   = api.FormatTOML
	Dotenv = api.FormatDotenv
	YAML   = api.FormatYAML
	JSON   = api.FormatJSON
)

// ParseFormat accepts toml, env (or dotenv), yaml (or yml) and json.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "toml":
		return TOML, nil
	case "env", "dotenv", ".env":
		return Dotenv, nil
	case "yaml", "yml":
		return YAML, nil
	case "json":
		return JSON, nil
	}
	return "", fmt.Errorf("%w %q (want toml, env, yaml or json)", ErrUnsupportedFormat, s)
}

// FormatFromName guesses a format from a file name: *.toml, .env / *.env /
// .env.*, *.yaml / *.yml, *.json. It returns "" when it cannot tell.
func FormatFromName(name string) Format {
	base := strings.ToLower(filepath.Base(name))
	switch {
	case strings.HasSuffix(base, ".toml"):
		return TOML
	case strings.HasSuffix(base, ".yaml"), strings.HasSuffix(base, ".yml"):
		return YAML
	case strings.HasSuffix(base, ".json"):
		return JSON
	case base == ".env", strings.HasSuffix(base, ".env"), strings.HasPrefix(base, ".env."):
		return Dotenv
	}
	return ""
}

// Options tunes a merge.
type Options struct {
	// Format of both inputs. Required.
	Format Format
	// KeepUnknown writes keys that only the current file has (TOML, YAML, JSON)
	// instead of dropping them. Dotenv always keeps them (they are usually secrets).
	KeepUnknown bool
	// VersionKeys are dotted key paths (e.g. "inner.version") whose value always
	// comes from the template, so the application does not merge again.
	VersionKeys []string
	// TemplateName and CurrentName name the inputs in errors; CurrentName also
	// names the file in the Report.
	TemplateName string
	CurrentName  string
}

// Merge puts the user's values from current into the template and returns the
// merged file and a report of what differed.
//
// Rules, for every key path:
//   - in both: the user's value, written as the user wrote it (with the user's
//     inline comment when it differs from the template's); if the types disagree
//     (integer and float count as one type, number) the template's default is
//     kept and the key is reported in TypeChanged;
//   - only in the template: the template's default, reported in New;
//   - only in the current file: dropped and reported in Removed, unless
//     KeepUnknown, then written and reported in KeptUnknown; dotenv keeps them
//     always (reported in KeptUnknown);
//   - arrays, arrays of tables and inline tables are values: the user's, whole;
//   - a version key: always the template's.
//
// Merge is deterministic, and merging a file with its own template returns the
// template. An input that does not parse yields a *ParseError.
func Merge(template, current []byte, opts Options) ([]byte, Report, error) {
	rep := Report{File: opts.CurrentName, Format: opts.Format}
	var out []byte
	var err error
	switch opts.Format {
	case TOML:
		out, err = mergeTOML(template, current, opts, &rep)
	case Dotenv:
		out, err = mergeDotenv(template, current, opts, &rep)
	case YAML:
		out, err = mergeYAML(template, current, opts, &rep)
	case JSON:
		out, err = mergeJSON(template, current, opts, &rep)
	default:
		return nil, rep, fmt.Errorf("%w %q", ErrUnsupportedFormat, opts.Format)
	}
	if err != nil {
		return nil, Report{File: opts.CurrentName, Format: opts.Format}, err
	}
	rep.Normalize()
	return out, rep, nil
}

func (o Options) isVersionKey(path string) bool {
	for _, k := range o.VersionKeys {
		if k == path {
			return true
		}
	}
	return false
}
