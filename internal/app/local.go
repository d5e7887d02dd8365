package app

// The verbs that need no engine: what a face asks without a project or before one.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/config"
	"github.com/docker-maim/docker-maim/internal/maibot"
	"github.com/docker-maim/docker-maim/internal/volume"
)

func (s *service) MergeConfig(ctx context.Context, o api.MergeConfigOptions) (*api.MergeConfigResult, error) {
	format := o.Format
	if format == "" {
		if format = config.FormatFromName(o.Current); format == "" {
			format = config.FormatFromName(o.Template)
		}
		if format == "" {
			return nil, &api.UsageError{Err: fmt.Errorf("cannot tell the format of %s; use --format toml|env|yaml|json", o.Current)}
		}
	}
	versionKeys := o.VersionKeys
	if versionKeys == nil && format == config.TOML {
		versionKeys = []string{maibot.VersionKey}
	}
	tmpl, err := os.ReadFile(o.Template)
	if err != nil {
		return nil, err
	}
	cur, err := os.ReadFile(o.Current)
	if err != nil {
		return nil, err
	}
	merged, rep, err := config.Merge(tmpl, cur, config.Options{
		Format: format, KeepUnknown: o.KeepUnknown, VersionKeys: versionKeys,
		TemplateName: o.Template, CurrentName: o.Current,
	})
	if err != nil {
		return nil, err
	}
	if o.Output != "" {
		if err := config.ApplyFile(o.Output, merged); err != nil {
			return nil, err
		}
	}
	return &api.MergeConfigResult{Merged: merged, Output: o.Output, Report: rep}, nil
}

// KnownProjects lists the projects docker-maim has a state directory for, on any engine
// (StateRoot/ENGINE/PROJECT). It only lists directories: a name is never joined into a
// path, so no name can walk out of the state directory.
func (s *service) KnownProjects() []string {
	root, err := backup.StateRoot()
	if err != nil {
		return nil
	}
	engines, _ := os.ReadDir(root)
	var out []string
	for _, e := range engines {
		if !e.IsDir() {
			continue
		}
		projects, _ := os.ReadDir(filepath.Join(root, e.Name()))
		for _, p := range projects {
			if p.IsDir() {
				out = append(out, p.Name())
			}
		}
	}
	return out
}

// Helpers lists the helpers this build embeds (volume.EmbeddedHelpers).
func (s *service) Helpers() []api.Helper {
	var out []api.Helper
	for _, h := range volume.EmbeddedHelpers() {
		out = append(out, api.Helper{Platform: h.Platform, Size: h.Size, SHA256: h.SHA256})
	}
	return out
}
