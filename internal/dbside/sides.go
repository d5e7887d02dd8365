package dbside

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/snapshot"
)

// Sides are the side clusters of one upgrade, by service: what the upgrade's phases start,
// stop, swap in and drop.
type Sides struct {
	Eng  Engine
	Mv   Mover
	By   map[string]*Side
	Logf func(format string, args ...any)
}

// NewSides takes the engine and mover an operation has (the real ones are an Engine and a
// Mover; fakes of unit tests may not be: an error then).
func NewSides(engine, mover any, logf func(string, ...any)) (*Sides, error) {
	eng, ok := engine.(Engine)
	mv, ok2 := mover.(Mover)
	if !ok || !ok2 {
		return nil, errors.New("this engine connection cannot run a side cluster")
	}
	return &Sides{Eng: eng, Mv: mv, By: map[string]*Side{}, Logf: logf}, nil
}

// Start starts the side cluster of spec (Start) and waits until it accepts connections
// (at most timeout); a side container created is recorded (DropAll removes it) even when
// it fails.
func (s *Sides) Start(ctx context.Context, spec Spec, timeout time.Duration) (*Side, error) {
	sd, err := Start(ctx, s.Eng, s.Mv, spec)
	if sd != nil {
		s.By[spec.Service] = sd
	}
	if err != nil {
		return nil, err
	}
	return sd, sd.Wait(ctx, s.Eng, timeout)
}

// DropAll drops every side cluster recorded (Side.Drop), even once ctx is cancelled:
// a refusal, or a failure before the journal.
func (s *Sides) DropAll(ctx context.Context) {
	for svc, sd := range s.By {
		if err := sd.Drop(context.WithoutCancel(ctx), s.Eng, s.Mv); err != nil {
			s.Logf("removing the side cluster of %s: %v (docker maim rollback removes it)", svc, err)
		}
	}
	s.By = map[string]*Side{}
}

// Clean removes the side clusters of project a killed docker-maim left (Cleanup).
func (s *Sides) Clean(ctx context.Context, project string) error {
	n, err := Cleanup(ctx, s.Eng, s.Mv, project)
	if n > 0 {
		s.Logf("removed %d side cluster(s) an interrupted --migrate-db left", n)
	}
	return err
}

// Source finds the data source named name among srcs and where service svc mounts it:
// the mount at dataDir or nearest above it (the old cluster's data directory).
func Source(srcs []project.Source, name, svc, dataDir string) (Spec, error) {
	var spec Spec
	for _, src := range srcs {
		if src.Name != name {
			continue
		}
		for _, m := range src.Mounts {
			t := path.Clean(m.Target)
			within := t == path.Clean(dataDir) || t == "/" || len(dataDir) > len(t) && dataDir[:len(t)] == t && dataDir[len(t)] == '/'
			if m.Service == svc && within && len(t) > len(spec.Mount) {
				spec.Mount = t
			}
		}
		tg, ok := snapshot.TargetOf(src, "")
		if !ok || tg.IsFile || spec.Mount == "" {
			break
		}
		spec.Source = tg
		return spec, nil
	}
	return spec, fmt.Errorf("%s mounts no directory or volume %s holding %s", svc, name, dataDir)
}
