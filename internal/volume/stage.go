package volume

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/docker-maim/docker-maim/internal/diffrestore"
	"github.com/docker-maim/docker-maim/internal/helper"
)

// DiffStager is a Mover that can take a differential restore in two passes: StageDiff, while
// the services run, writes the backup's version of each file the restore will rewrite into a
// stage dir at the target's root (diffrestore.Stage); RestoreDiff with DiffOptions.Staged,
// after the stop, renames the untouched ones into place. DropStage removes a stage that
// will not be used (a failure before the stop).
type DiffStager interface {
	StageDiff(ctx context.Context, t Target, opts DiffOptions) (diffrestore.StageResult, error)
	DropStage(ctx context.Context, t Target, name string) error
}

// StageDiff implements DiffStager: on the host path in this process, on the helper path in
// a helper container (`maim-helper diffstage`, the backup dir mounted read-only, the stage
// record back as its {"index"} pieces); the archive API cannot (Fallback).
func (m *EngineMover) StageDiff(ctx context.Context, t Target, opts DiffOptions) (diffrestore.StageResult, error) {
	p, hp, fb, err := m.diffTarget(ctx, t, false)
	if fb != "" || err != nil {
		return diffrestore.StageResult{Fallback: fb}, err
	}
	switch p {
	case PathHost:
		if err := opts.ready(); err != nil {
			return diffrestore.StageResult{}, err
		}
		f, progress, err := opts.hostInputs()
		if err != nil {
			return diffrestore.StageResult{}, err
		}
		defer f.Close()
		return helper.StageDiff(ctx, hp, f, opts.Archives, opts.Excludes, progress)
	case PathHelper:
		var rec bytes.Buffer
		res, fb, err := m.runDiffHelper(ctx, t, opts, diffCall{cmd: "diffstage", index: &rec})
		if fb != "" || err != nil {
			return diffrestore.StageResult{Fallback: fb}, err
		}
		out := diffrestore.StageResult{Fallback: res.diff.Fallback, Files: res.stats.Files, Bytes: res.stats.Bytes}
		if rec.Len() > 0 {
			if out.Staged, err = diffrestore.UnmarshalStaged(rec.Bytes()); err != nil {
				return out, fmt.Errorf("staging %s: %w", t, err)
			}
		}
		return out, nil
	}
	return diffrestore.StageResult{Fallback: "the data path is the archive API, which cannot compare the target"}, nil
}

// DropStage implements DiffStager: the stage dir name goes from the target's root.
func (m *EngineMover) DropStage(ctx context.Context, t Target, name string) error {
	if !diffrestore.IsStageName(name) {
		return fmt.Errorf("not a stage directory: %q", name)
	}
	p, hp, err := m.pickFor(ctx, t, true)
	if err != nil {
		return err
	}
	switch p {
	case PathHost:
		return diffrestore.DropStage(hp, name)
	case PathHelper:
		mounts, binds, cp := helperMounts(t, false)
		_, err := m.runWithHelperImage(ctx, helperRun{labels: m.targetLabels(t), args: []string{"diffstage", "--drop", name, cp}, mounts: mounts, binds: binds, lifeline: true})
		if err != nil {
			return fmt.Errorf("removing the stage of %s: %w", t, err)
		}
		return nil
	}
	return fmt.Errorf("removing the stage of %s: the archive API cannot", t)
}

// staleStages leaves out of every backup a root entry named as a stage directory
// (diffrestore.IsStageName: the prefix and 32 hex digits, a form reserved for docker-maim),
// also one this process did not make: a restore killed (kill -9) between its stage and its
// end leaves its stage dir, which no backup may then take for data. Not recorded as an
// exclude, so any restore of the backup removes it.
var staleStages = "/" + diffrestore.StagePrefix + strings.Repeat("[0-9a-f]", 32)

// transientExcludes are opts.Excludes with each of opts.Transient as an exclude of exactly
// that name at the root (.dockerignore syntax: a name without a "/" or a wildcard matches
// only the root's entry of that name, and everything below it), and staleStages.
func transientExcludes(opts BackupOptions) ([]string, error) {
	out := append(append([]string(nil), opts.Excludes...), staleStages)
	for _, n := range opts.Transient {
		if n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\\*?[!") {
			return nil, fmt.Errorf("%q is no exact name of a dir at the root", n)
		}
		out = append(out, "/"+n)
	}
	return out, nil
}
