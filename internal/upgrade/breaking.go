package upgrade

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	maim "github.com/docker-maim/docker-maim/internal/api"
)

// Labels and x-maim keys that declare breaking changes.
//
// On the new image:
//
//	io.docker-maim.breaking = "reason"   (any non-empty value but "false")
//	io.docker-maim.notes    = "https://..."
//
// In the compose file, per service or for the whole project:
//
//	x-maim:
//	  breaking:
//	    version: "2.0.0"       # applies when an upgrade crosses this version (old < v <= new)
//	    reason: "database schema 2; 1.x cannot read it"
//	    notes: https://...
const (
	LabelBreaking = "io.docker-maim.breaking"
	LabelNotes    = "io.docker-maim.notes"
)

// Finding is one reason an upgrade is breaking.
type Finding = maim.Finding

type semver struct{ major, minor, patch int }

var semverRe = regexp.MustCompile(`^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[-+].*)?$`)

func parseSemver(s string) (semver, bool) {
	m := semverRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return semver{}, false
	}
	var v semver
	v.major, _ = strconv.Atoi(m[1])
	if m[2] != "" {
		v.minor, _ = strconv.Atoi(m[2])
	}
	if m[3] != "" {
		v.patch, _ = strconv.Atoi(m[3])
	}
	return v, true
}

func (a semver) less(b semver) bool {
	if a.major != b.major {
		return a.major < b.major
	}
	if a.minor != b.minor {
		return a.minor < b.minor
	}
	return a.patch < b.patch
}

// majorRise tells whether going from old to new crosses a major version. Below 1.0 the
// minor number is the major one (semver: 0.y may break on every minor; MaiBot's 0.x
// releases did).
func majorRise(oldV, newV string) (bool, string) {
	o, ok1 := parseSemver(oldV)
	n, ok2 := parseSemver(newV)
	if !ok1 || !ok2 {
		return false, ""
	}
	if n.major > o.major {
		return true, fmt.Sprintf("major version rises %s -> %s", oldV, newV)
	}
	if n.major == 0 && o.major == 0 && n.minor > o.minor {
		return true, fmt.Sprintf("0.x minor version rises %s -> %s (breaking under semver)", oldV, newV)
	}
	return false, ""
}

// breakingDecl is the x-maim breaking declaration.
type breakingDecl struct {
	Version string
	Reason  string
	Notes   string
}

func parseBreaking(ext map[string]any) (*breakingDecl, error) {
	raw, ok := ext["x-maim"]
	if !ok {
		return nil, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("x-maim must be a mapping")
	}
	b, ok := m["breaking"]
	if !ok {
		return nil, nil
	}
	switch v := b.(type) {
	case map[string]any:
		d := &breakingDecl{}
		for k, val := range v {
			s := fmt.Sprint(val)
			switch k {
			case "version":
				d.Version = s
			case "reason":
				d.Reason = s
			case "notes":
				d.Notes = s
			default:
				return nil, fmt.Errorf("x-maim.breaking: unknown key %q (version, reason, notes)", k)
			}
		}
		return d, nil
	case bool:
		if v {
			return &breakingDecl{Reason: "declared breaking in the compose file"}, nil
		}
		return nil, nil
	case string:
		if v == "" || v == "false" {
			return nil, nil
		}
		return &breakingDecl{Reason: v}, nil
	}
	return nil, fmt.Errorf("x-maim.breaking must be a mapping, a bool or a string")
}

// applies tells whether a declaration concerns an upgrade from oldV to newV.
func (d *breakingDecl) applies(oldV, newV string) bool {
	if d.Version == "" {
		return true
	}
	v, ok := parseSemver(d.Version)
	o, ok1 := parseSemver(oldV)
	n, ok2 := parseSemver(newV)
	if !ok || !ok1 || !ok2 {
		return true // cannot tell: be safe
	}
	return o.less(v) && !n.less(v)
}

// findBreaking lists why the changes are breaking: a major version rise, a breaking
// label on the new image, or an x-maim declaration of the service or the project.
func findBreaking(changes []ImageChange, serviceExt map[string]map[string]any, projectExt map[string]any) ([]Finding, error) {
	var out []Finding
	projDecl, err := parseBreaking(projectExt)
	if err != nil {
		return nil, err
	}
	for _, c := range changes {
		if !c.Changed() {
			continue
		}
		notes := c.NewLabels[LabelNotes]
		if yes, why := majorRise(c.OldVersion, c.NewVersion); yes {
			out = append(out, Finding{Service: c.Service, Reason: why, Notes: notes})
		}
		if b := c.NewLabels[LabelBreaking]; b != "" && b != "false" {
			reason := "the new image declares a breaking change"
			if b != "true" {
				reason += ": " + b
			}
			out = append(out, Finding{Service: c.Service, Reason: reason, Notes: notes})
		}
		decl, err := parseBreaking(serviceExt[c.Service])
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", c.Service, err)
		}
		for _, d := range []*breakingDecl{decl, projDecl} {
			if d != nil && d.applies(c.OldVersion, c.NewVersion) {
				reason := d.Reason
				if reason == "" {
					reason = "declared breaking in the compose file"
				}
				if d.Version != "" {
					reason += " (at " + d.Version + ")"
				}
				n := d.Notes
				if n == "" {
					n = notes
				}
				out = append(out, Finding{Service: c.Service, Reason: reason, Notes: n})
			}
		}
	}
	return out, nil
}
