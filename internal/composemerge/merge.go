// Package composemerge owns the merge of a user's compose file into a release's new one: it
// produces the text of the new compose file that carries the user's own edits, a report of
// every rule it applied, and the unified diff of the user's file against the result. It works
// on yaml.v3 nodes (not compose-go types), so the new upstream file's comments and key order
// survive; it does not interpolate ${VAR}s, read env files, touch the disk or the engine.
//
// Three-way (Merge with a base, the release's previous upstream file): what the user changed
// relative to base is applied onto the new upstream file: changed and added keys and values,
// environment and labels entries (list and map forms, matched by name), ports (matched by
// container port), volumes and binds (matched by container target), depends_on and service
// networks (matched by name), pinned image tags, added services and top-level definitions,
// removed keys and services. When both sides changed the same key differently, upstream's
// value is kept and the rule is reported as a conflict. Entries are matched by key, never by
// position: the result keeps upstream's order, and a user's reorder alone is not a change.
//
// Two-way (no base): under a service both files have, the user's values for keys (and list
// entries) both files have are kept; user-only services and user-only top-level definitions
// (volumes, networks, secrets, configs) are kept; user-only keys inside a shared service are
// dropped (they cannot be told apart from what the release removed) and reported. The user's
// image tag is kept only on upstream's image name when upstream's tag floats (none, latest,
// a variable): a tag upstream fixes may be the one the user's file had from the old release.
//
// In both modes the top-level name: is the user's file's, or absent when it has none
// (RuleProjectName): a release never renames the project.
//
// The report also lists the services that appear and disappear and the binds that move (same
// container target, another host source; or a host source the new file no longer mounts).
// Secrets are redacted in the report and in Diff unless asked otherwise: the values of keys
// that look secret (config.SecretKey) and whatever package redact finds in a value.
package composemerge

import (
	"fmt"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/config"
	"github.com/docker-maim/docker-maim/internal/redact"
	yaml "go.yaml.in/yaml/v3"
)

// Mode names.
const (
	ThreeWay = "three-way"
	TwoWay   = "two-way"
)

// Rule names, as they appear in Change.Rule.
const (
	RuleUserValue        = "user-value"             // the user changed a value upstream kept: the user's is written
	RuleUserAdded        = "user-added"             // a key, entry or service only the user added
	RuleUserRemoved      = "user-removed"           // the user removed a key, entry or service upstream kept
	RuleImagePinned      = "image-tag-pinned"       // the user's tag on upstream's image name
	RuleImageRenamed     = "image-renamed-upstream" // upstream changed the image name: the user's tag is not carried
	RuleBothChanged      = "both-changed"           // both changed a value differently: upstream's kept (conflict)
	RuleUpstreamRemoved  = "upstream-removed"       // upstream removed what the user changed or kept: gone
	RuleTwoWayUserValue  = "two-way-user-value"     // two-way: the user's value for a key both files have
	RuleTwoWayUserKept   = "two-way-user-kept"      // two-way: a user-only service or top-level definition kept
	RuleTwoWayDropped    = "two-way-dropped"        // two-way: a user-only key of a shared service not carried
	RuleKnownRemoved     = "release-removed"        // a service the caller says the release removed (Options.RemovedServices)
	RuleDanglingDepends  = "dangling-depends-on"    // depends_on on a service the result no longer has: dropped
	RuleTwoWayReleaseTag = "two-way-release-tag"    // two-way: upstream names a version: its tag, not the user's
	RuleProjectName      = "project-name-kept"      // the top-level name: is the user's (or absent as in the user's file)
)

// Change is one rule the merge applied (api.ComposeMergeChange; Rule is one of the
// Rule* constants).
type Change = api.ComposeMergeChange

// BindMove is a bind mount of the user's file that the result mounts elsewhere or not at all.
type BindMove = api.BindMove

// Report is what a merge did (api.ComposeMergeReport: Mode is ThreeWay or TwoWay;
// LayoutChanged tells a swap that counts as breaking).
type Report = api.ComposeMergeReport

// Options tune a merge.
type Options struct {
	// RemovedServices are services the release is known to have removed (MaiBot 1.x's
	// "adapters"): in a two-way merge a user-only service of that name is not kept.
	RemovedServices []string
	// ShowSecrets keeps secret-looking values in the report.
	ShowSecrets bool
}

// Merge merges user's edits into upstream: three-way when base is not nil, two-way when base is
// nil (see the package doc). The result is upstream byte for byte when nothing of the user's
// needs carrying.
func Merge(base, user, upstream []byte) ([]byte, Report, error) {
	return MergeWith(base, user, upstream, Options{})
}

// MergeWith is Merge with options.
func MergeWith(base, user, upstream []byte, opts Options) ([]byte, Report, error) {
	m := &merger{opts: opts, twoWay: base == nil}
	m.rep.Mode = ThreeWay
	if m.twoWay {
		m.rep.Mode = TwoWay
	}
	upDoc, up, err := parseDoc("upstream", upstream)
	if err != nil {
		return nil, Report{}, err
	}
	_, us, err := parseDoc("user", user)
	if err != nil {
		return nil, Report{}, err
	}
	var bs *yaml.Node
	if !m.twoWay {
		if _, bs, err = parseDoc("base", base); err != nil {
			return nil, Report{}, err
		}
	}
	own := dependsPairs(up)
	m.mergeTop(bs, us, up)
	m.dropDanglingDepends(up, own)
	out := upstream
	if m.dirty {
		fixAliases(upDoc, map[*yaml.Node]bool{})
		if out, err = encode(upDoc, indentOf(upstream)); err != nil {
			return nil, Report{}, fmt.Errorf("compose merge: writing the result: %w", err)
		}
		if _, _, err := parseDoc("result", out); err != nil {
			return nil, Report{}, fmt.Errorf("compose merge: the result does not parse (a bug): %w", err)
		}
	}
	for _, c := range m.rep.Changes {
		if c.Conflict {
			m.rep.Conflicts++
		}
	}
	layout(us, up, &m.rep)
	if m.rep.Changes == nil {
		m.rep.Changes = []Change{}
	}
	return out, m.rep, nil
}

// merger carries one merge's state.
type merger struct {
	opts   Options
	twoWay bool
	rep    Report
	dirty  bool
}

// add records a change: every report line goes through here, so unless ShowSecrets the
// values hide what redact finds in them (a token of a known shape, a URL's password, a
// private key, a command's password argument, a secret-looking NAME=value), whatever key
// they are under; change and redact hide the whole value of a secret-looking key before.
func (m *merger) add(c Change) {
	if !m.opts.ShowSecrets {
		for _, p := range []*string{&c.Old, &c.New, &c.User} {
			if r := redact.Text(*p); r != *p {
				*p, c.Redacted = r, true
			}
		}
	}
	m.rep.Changes = append(m.rep.Changes, c)
}

// redact hides a value when its key (the last part of path) looks secret.
func (m *merger) redact(svc, key, v string) string {
	if m.opts.ShowSecrets || v == "" {
		return v
	}
	if config.SecretKey(key) {
		return config.Redacted
	}
	return v
}

func (m *merger) change(c Change, key string) {
	if !m.opts.ShowSecrets && config.SecretKey(key) {
		for _, p := range []*string{&c.Old, &c.New, &c.User} {
			if *p != "" {
				*p = config.Redacted
			}
		}
		c.Redacted = true
	}
	m.add(c)
}
