// Package dbside runs the side cluster of upgrade --migrate-db: before anything stops, a
// container of the database service's NEW image, with the environment and the data source
// the service's new container will have (mounted at the same place), but PGDATA pointing
// into a fresh subdirectory of that source (the side directory, Layout). Its entrypoint
// initialises the new cluster there while the old server keeps running (PostgreSQL ignores
// a directory it does not know in its data directory); the upgrade streams the dump into
// it, stops it cleanly, and once its backup is verified moves the side directory's entries
// into place (Side.Swap: renames within the one mount, volume.EngineMover.SideDir).
//
// Exact: the new cluster is initialised by the same image, from the same environment and
// the same mount as the service's own container would initialise it on an emptied data
// source, and at the same path relative to the source (the side directory mirrors the
// top of the source); after the swap the source holds nothing else, as after the slow
// path's empty-and-initdb.
//
// A side container carries volume.LabelHelper=LabelValue and labels naming the project,
// the service, the side directory and the data source, so Cleanup (rollback.Resolve, the
// upgrade's refusals) finds it after a kill -9 and removes it and its side directory. It
// is created on no network (the loopback only: the tools run inside it) and publishes no
// port.
package dbside

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/docker-maim/docker-maim/internal/dbdump"
	"github.com/docker-maim/docker-maim/internal/volume"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

// Labels of a side container.
const (
	LabelValue   = "db-side" // volume.LabelHelper's value
	LabelProject = volume.LabelHelper + ".project"
	LabelService = volume.LabelHelper + ".service"
	LabelDir     = volume.LabelHelper + ".side-dir"
	LabelVolume  = volume.LabelHelper + ".volume" // the data source: a volume's name
	LabelBind    = volume.LabelHelper + ".bind"   // or a bind's host path
)

// DirPrefix starts every side directory's name.
const DirPrefix = ".maim-migrate-"

// Engine is what a side cluster needs of the engine.
type Engine interface {
	dbdump.Engine
	ContainerCreate(ctx context.Context, options client.ContainerCreateOptions) (client.ContainerCreateResult, error)
	ContainerStart(ctx context.Context, container string, options client.ContainerStartOptions) (client.ContainerStartResult, error)
	ContainerStop(ctx context.Context, container string, options client.ContainerStopOptions) (client.ContainerStopResult, error)
	ContainerRemove(ctx context.Context, container string, options client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
}

// Mover reads and moves the side directory (volume.EngineMover).
type Mover interface {
	ReadFile(ctx context.Context, t volume.Target, rel string, max int64) ([]byte, error)
	SideDir(ctx context.Context, t volume.Target, name string, swap, rootAttrs bool) error
}

// Spec is one side cluster to start.
type Spec struct {
	Project, Service string
	// Image is the service's new image; Env the environment its new container will have
	// (KEY=VALUE: the image's with the service's over it); Entrypoint, Cmd and User the
	// service's own when it sets them (empty: the image's).
	Image           string
	Env             []string
	Entrypoint, Cmd []string
	User            string
	// Source is the data source, which the service mounts at Mount; PGDATA the new
	// cluster's directory as the service will see it (beneath Mount).
	Source        volume.Target
	Mount, PGDATA string
	// Dir is the side directory's name, a fresh one (DirPrefix and a backup's ID).
	Dir string
}

// Side is a side cluster started.
type Side struct {
	Spec
	ID  string
	Env []string // the side container's environment: Spec.Env with the side PGDATA
	rel string   // PGDATA relative to Mount
}

// Layout is where a side cluster keeps its data: PGDATA's path relative to mount (""
// when they are one) below the side directory dir at the top of mount, so that the side
// directory mirrors the top of the source (the official image 18's layout, the volume at
// /var/lib/postgresql and PGDATA=/var/lib/postgresql/18/docker: .maim-migrate-ID/18/docker).
// A PGDATA outside mount is an error: the new cluster would not be on the data source.
func Layout(mount, pgdata, dir string) (side, rel string, err error) {
	mount, pgdata = path.Clean(mount), path.Clean(pgdata)
	if !path.IsAbs(mount) || !path.IsAbs(pgdata) {
		return "", "", fmt.Errorf("mount %q and PGDATA %q must be absolute", mount, pgdata)
	}
	if dir == "" || strings.ContainsRune(dir, '/') || dir == "." || dir == ".." {
		return "", "", fmt.Errorf("side directory %q: want one name", dir)
	}
	switch {
	case pgdata == mount:
	case strings.HasPrefix(pgdata, strings.TrimSuffix(mount, "/")+"/"):
		rel = strings.TrimPrefix(pgdata, strings.TrimSuffix(mount, "/")+"/")
	default:
		return "", "", fmt.Errorf("the new image's PGDATA %s is not on the data source mounted at %s: the new cluster would not be kept", pgdata, mount)
	}
	if first, _, _ := strings.Cut(rel, "/"); first == dir {
		return "", "", fmt.Errorf("PGDATA %s lies in the side directory's own name %s", pgdata, dir)
	}
	return path.Join(mount, dir, rel), rel, nil
}

// Start refuses a side directory that exists already, then creates and starts the side
// container (its entrypoint initialises the cluster; Wait waits for it).
func Start(ctx context.Context, eng Engine, mv Mover, s Spec) (*Side, error) {
	side, rel, err := Layout(s.Mount, s.PGDATA, s.Dir)
	if err != nil {
		return nil, err
	}
	if _, err := mv.ReadFile(ctx, s.Source, s.Dir, 1); !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s exists already in %s (or cannot be looked for: %v): the side cluster needs a fresh directory", s.Dir, s.Source, err)
	}
	env := []string{}
	for _, kv := range s.Env {
		if !strings.HasPrefix(kv, "PGDATA=") {
			env = append(env, kv)
		}
	}
	env = append(env, "PGDATA="+side)
	m := mount.Mount{Type: mount.TypeVolume, Source: s.Source.VolumeName, Target: s.Mount, VolumeOptions: &mount.VolumeOptions{NoCopy: true}}
	labels := map[string]string{volume.LabelHelper: LabelValue, LabelProject: s.Project, LabelService: s.Service, LabelDir: s.Dir}
	if s.Source.Kind == volume.KindVolume {
		labels[LabelVolume] = s.Source.VolumeName
	} else {
		m = mount.Mount{Type: mount.TypeBind, Source: s.Source.HostPath, Target: s.Mount}
		labels[LabelBind] = s.Source.HostPath
	}
	cfg := &container.Config{Image: s.Image, Env: env, Labels: labels, Entrypoint: s.Entrypoint, Cmd: s.Cmd, User: s.User}
	hc := &container.HostConfig{NetworkMode: "none", Mounts: []mount.Mount{m}}
	cr, err := eng.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cfg, HostConfig: hc})
	if err != nil {
		return nil, fmt.Errorf("creating the side container of %s: %w", s.Service, err)
	}
	sd := &Side{Spec: s, ID: cr.ID, Env: env, rel: rel}
	if _, err := eng.ContainerStart(ctx, cr.ID, client.ContainerStartOptions{}); err != nil {
		return sd, fmt.Errorf("starting the side container of %s: %w", s.Service, err)
	}
	return sd, nil
}

// Wait waits until the side cluster accepts connections over TCP (dbdump.Ready: the
// entrypoint's final server, not its temporary one), at most timeout; a container that
// stopped (initdb failed) fails at once.
func (s *Side) Wait(ctx context.Context, eng Engine, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ci, err := eng.ContainerInspect(ctx, s.ID, client.ContainerInspectOptions{})
		if err != nil {
			return err
		}
		if ci.Container.State != nil && !ci.Container.State.Running {
			return fmt.Errorf("the side container %.12s of %s stopped (exit %d) before its cluster was ready: did initdb fail?", s.ID, s.Service, ci.Container.State.ExitCode)
		}
		if dbdump.Ready(ctx, eng, s.ID, s.Env) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the side cluster of %s did not accept connections within %s", s.Service, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// Stop stops the side server cleanly: its image's stop signal (the official image's
// SIGINT: a fast shutdown with a checkpoint), killed only after grace.
func (s *Side) Stop(ctx context.Context, eng Engine, grace time.Duration) error {
	secs := int(grace / time.Second)
	if _, err := eng.ContainerStop(ctx, s.ID, client.ContainerStopOptions{Timeout: &secs}); err != nil {
		return fmt.Errorf("stopping the side container of %s: %w", s.Service, err)
	}
	ci, err := eng.ContainerInspect(ctx, s.ID, client.ContainerInspectOptions{})
	if err == nil && ci.Container.State != nil && ci.Container.State.ExitCode != 0 {
		return fmt.Errorf("the side server of %s exited %d when stopped: its cluster may not be shut down cleanly", s.Service, ci.Container.State.ExitCode)
	}
	return err
}

// Swap moves the side directory's entries into place in the data source, every other
// entry of it removed (volume.EngineMover.SideDir): the source then holds the new cluster
// only, as after the slow path's empty-and-initdb. When PGDATA is the top of the source
// the top takes the side directory's mode and owner (the entrypoint set them on it).
func (s *Side) Swap(ctx context.Context, mv Mover) error {
	return mv.SideDir(ctx, s.Source, s.Dir, true, s.rel == "")
}

// Remove force-removes the side container (not its directory).
func (s *Side) Remove(ctx context.Context, eng Engine) error {
	return remove(ctx, eng, s.ID)
}

// Drop removes the side directory, then the side container: the migration abandoned
// before the swap, the data source as it was. The container goes last (stopped first, at
// once: its cluster is thrown away), so that a kill -9 in between leaves it for Cleanup
// to find.
func (s *Side) Drop(ctx context.Context, eng Engine, mv Mover) error {
	now := 0
	if _, err := eng.ContainerStop(ctx, s.ID, client.ContainerStopOptions{Timeout: &now}); err != nil && !strings.Contains(strings.ToLower(err.Error()), "no such container") {
		return fmt.Errorf("stopping the side container of %s: %w", s.Service, err)
	}
	if err := mv.SideDir(ctx, s.Source, s.Dir, false, false); err != nil {
		return err
	}
	return s.Remove(ctx, eng)
}

func remove(ctx context.Context, eng Engine, id string) error {
	_, err := eng.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}) // anonymous volumes of the image's VOLUMEs only
	if err != nil && !strings.Contains(strings.ToLower(err.Error()), "no such container") {
		return err
	}
	return nil
}

// Cleanup removes every side container of project the labels find, and its side
// directory (a kill -9 left them: `docker maim rollback` resolves it). It returns how many
// it removed. A side directory whose container was already gone is not found here: the
// upgrade removes the container only after the swap (which removed the directory) or
// after dropping the directory.
func Cleanup(ctx context.Context, eng Engine, mv Mover, project string) (int, error) {
	res, err := eng.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).
		Add("label", volume.LabelHelper+"="+LabelValue).Add("label", LabelProject+"="+project)})
	if err != nil {
		return 0, fmt.Errorf("listing side containers: %w", err)
	}
	n := 0
	for _, c := range res.Items {
		s := &Side{ID: c.ID, Spec: Spec{Service: c.Labels[LabelService], Dir: c.Labels[LabelDir]}}
		if v := c.Labels[LabelVolume]; v != "" {
			s.Source = volume.Target{Kind: volume.KindVolume, VolumeName: v}
		} else {
			s.Source = volume.Target{Kind: volume.KindBind, HostPath: c.Labels[LabelBind]}
		}
		if !strings.HasPrefix(s.Dir, DirPrefix) {
			if err := s.Remove(ctx, eng); err != nil {
				return n, err
			}
			continue
		}
		if err := s.Drop(ctx, eng, mv); err != nil {
			return n, fmt.Errorf("removing the side cluster of %s: %w", s.Service, err)
		}
		n++
	}
	return n, nil
}
