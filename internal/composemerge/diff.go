package composemerge

import (
	"regexp"
	"strings"

	"github.com/docker-maim/docker-maim/internal/config"
)

// secretLine finds "KEY=value", "- KEY=value" and "KEY: value" in a compose file line.
var secretLine = regexp.MustCompile(`^(\s*(?:-\s+)?["']?)([A-Za-z_][A-Za-z0-9_.-]*)(["']?\s*(?:=|:\s)\s*)(.*)$`)

// Diff is the line diff of the user's old compose file against the merged one: changed lines
// only, "-" for a line of old and "+" for one of merged. Unless showSecrets, the value of a
// line whose key looks secret (config.SecretKey: "OPENAI_API_KEY=...", "password: ...") is
// printed as "<redacted: changed>" or "<redacted: unchanged>" (whether the other file has
// the same value under that key).
func Diff(old, merged []byte, showSecrets bool) string {
	if string(old) == string(merged) {
		return ""
	}
	a, b := strings.Split(string(old), "\n"), strings.Split(string(merged), "\n")
	if showSecrets {
		return config.LineDiff(a, b, a, b)
	}
	av, bv := secretValues(a), secretValues(b)
	return config.LineDiff(a, b, redactLines(a, bv), redactLines(b, av))
}

func secretValues(lines []string) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, l := range lines {
		if m := secretLine.FindStringSubmatch(l); m != nil && config.SecretKey(m[2]) {
			if out[m[2]] == nil {
				out[m[2]] = map[string]bool{}
			}
			out[m[2]][lineValue(m[4])] = true
		}
	}
	return out
}

func redactLines(lines []string, other map[string]map[string]bool) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l
		m := secretLine.FindStringSubmatch(l)
		if m == nil || !config.SecretKey(m[2]) || lineValue(m[4]) == "" {
			continue
		}
		label := "<redacted: changed>"
		if other[m[2]][lineValue(m[4])] {
			label = "<redacted: unchanged>"
		}
		out[i] = m[1] + m[2] + m[3] + label
	}
	return out
}

// lineValue is a line's value without a trailing comment and quotes.
func lineValue(v string) string {
	if i := strings.Index(v, " #"); i >= 0 {
		v = v[:i]
	}
	return strings.Trim(strings.TrimSpace(v), `"'`)
}
