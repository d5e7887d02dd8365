package api

import (
	"fmt"
	"sort"
	"strings"
)

// SourcePolicy is when a data source is backed up: per source, set in the compose file
// (x-maim's backup key on a volume or a mount, or the volume label LabelSourcePolicy) or
// with --source-policy NAME=POLICY, which wins.
type SourcePolicy string

// The source policies.
const (
	// PolicyAlways backs the source up in every backup (the default).
	PolicyAlways SourcePolicy = "always"
	// PolicyChanged backs the source up only when it changed since the newest complete
	// backup that holds it: otherwise the new backup references that backup's archives
	// (the metadata scan equals that backup's recorded index; exact where two-pass backups
	// are: see the README).
	PolicyChanged SourcePolicy = "changed"
	// PolicyNever leaves the source out of an upgrade's backup: the plan lists it as not
	// protected and a rollback leaves it as it is. A manual backup still takes it (unless
	// --exclude-source names it).
	PolicyNever SourcePolicy = "never"
)

// LabelSourcePolicy is the volume label that sets a volume's policy (the x-maim key
// `backup` does the same and wins).
const LabelSourcePolicy = "docker-maim.backup"

// ParseSourcePolicy accepts always, changed and never ("" is always).
func ParseSourcePolicy(s string) (SourcePolicy, error) {
	switch p := SourcePolicy(strings.ToLower(strings.TrimSpace(s))); p {
	case "", PolicyAlways:
		return PolicyAlways, nil
	case PolicyChanged, PolicyNever:
		return p, nil
	}
	return "", fmt.Errorf("unknown backup policy %q (want always, changed or never)", s)
}

// ParseSourcePolicies reads --source-policy values, each NAME=POLICY; a name given twice
// is an error.
func ParseSourcePolicies(values []string) (map[string]SourcePolicy, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := map[string]SourcePolicy{}
	for _, v := range values {
		name, pol, ok := strings.Cut(v, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--source-policy %q: want NAME=always|changed|never", v)
		}
		p, err := ParseSourcePolicy(pol)
		if err != nil {
			return nil, fmt.Errorf("--source-policy %q: %w", v, err)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("--source-policy: %s is given twice", name)
		}
		out[name] = p
	}
	return out, nil
}

// PolicyNames lists the names of a policy map, sorted (for messages).
func PolicyNames(m map[string]SourcePolicy) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
