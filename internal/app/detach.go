package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker/cli/cli-plugins/socket"
)

// A detached operation lives in <state dir>/<project>/ops as three files: ID.json (who
// runs it: opMeta), ID.log (its stderr: the --progress json lines, warnings, its error
// line, and last the api.DetachedEnd line) and ID.out (its stdout: the result document).

// readyEnv names the file descriptor a detached run tells its parent on, once, that it
// holds the project lock ("locked\n"); the parent waits for that or for the end of file.
const readyEnv = "MAIM_DETACH_READY_FD"

// opMeta is ID.json: the detached process and what it runs.
type opMeta struct {
	ID      string    `json:"id"`
	PID     int       `json:"pid"`
	Args    []string  `json:"args"`
	Started time.Time `json:"started"`
}

// Detach implements api.Service.
func (s *service) Detach(ctx context.Context, o maim.DetachOptions) (*maim.DetachResult, error) {
	if err := detachSupported(); err != nil {
		return nil, err
	}
	if len(o.Args) < 2 {
		return nil, errors.New("detach: no command line to run")
	}
	dir, name, err := s.opsDir(ctx, o.Scope)
	if err != nil {
		return nil, err
	}
	pruneOps(dir, keepOps)
	id := newOpID(time.Now())
	base := filepath.Join(dir, id)
	logf, err := os.OpenFile(base+".log", os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	outf, err := os.OpenFile(base+".out", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	defer outf.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer null.Close()
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ready, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer ready.Close()
	cmd := exec.Command(exe, o.Args[1:]...)
	cmd.Env = append(detachEnv(os.Environ()), maim.DetachedEnv+"="+id, readyEnv+"=3")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = null, outf, logf
	cmd.ExtraFiles = []*os.File{readyW}
	cmd.SysProcAttr = detachAttr()
	err = cmd.Start()
	readyW.Close()
	if err != nil {
		for _, ext := range []string{".log", ".out"} {
			_ = os.Remove(base + ext) // no operation: nothing to attach to
		}
		return nil, fmt.Errorf("detach: %w", err)
	}
	meta, _ := json.Marshal(opMeta{ID: id, PID: cmd.Process.Pid, Args: o.Args, Started: time.Now().UTC()})
	if err := os.WriteFile(base+".json", meta, 0o600); err != nil {
		fmt.Fprintf(s.cfg.Err, "WARNING: %v\n", err)
	}
	res := &maim.DetachResult{ID: id, Project: name, PID: cmd.Process.Pid, Log: base + ".log"}
	buf := make([]byte, 16)
	n, _ := ready.Read(buf) // "locked\n", or 0 at the end of file: the run ended first
	res.Running = strings.HasPrefix(string(buf[:n]), "locked")
	if res.Running {
		_ = cmd.Process.Release() // it outlives us
	} else {
		_ = cmd.Wait()
	}
	return res, nil
}

// detachEnv is the environment of a detached run: the caller's without the docker CLI's
// plugin socket, whose closing (the CLI exiting) would cancel it.
func detachEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if k == socket.EnvKey || k == maim.DetachedEnv || k == readyEnv {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// newOpID is a sortable, unique operation ID: the UTC time and 3 random bytes.
func newOpID(now time.Time) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

var readyOnce sync.Once

// notifyLocked tells the parent of a detached run that it holds the project lock (see
// readyEnv); nothing in any other run.
func notifyLocked() {
	readyOnce.Do(func() {
		if os.Getenv(readyEnv) != "3" {
			return
		}
		os.Unsetenv(readyEnv)
		f := os.NewFile(3, "detach-ready")
		_, _ = f.Write([]byte("locked\n"))
		_ = f.Close()
	})
}

// opsDir is the project's directory of detached operations (created), found as a verb's
// session finds the project, without a lock and without its warnings.
func (s *service) opsDir(ctx context.Context, sc maim.Scope) (dir, name string, err error) {
	eng, err := s.engine(ctx)
	if err != nil {
		return "", "", err
	}
	cs, err := s.compose()
	if err != nil {
		return "", "", err
	}
	p, err := project.Resolve(ctx, cs, eng, project.Options{Files: sc.Files, Name: sc.Name, WorkingDir: sc.WorkingDir, EnvFiles: sc.EnvFiles, Profiles: sc.Profiles})
	if err != nil {
		return "", "", err
	}
	state, _, err := s.state(ctx, eng)
	if err != nil {
		return "", "", err
	}
	dir = filepath.Join(state.ProjectDir(p.Name), "ops")
	return dir, p.Name, os.MkdirAll(dir, 0o700)
}

// Attach implements api.Service.
func (s *service) Attach(ctx context.Context, o maim.AttachOptions) (*maim.AttachResult, error) {
	dir, name, err := s.opsDir(ctx, o.Scope)
	if err != nil {
		return nil, err
	}
	id := o.ID
	if id == "" {
		if id = newestOp(dir); id == "" {
			return nil, fmt.Errorf("%w: project %s has no detached operation (start one with --detach)", maim.ErrNotFound, name)
		}
	} else if strings.ContainsAny(id, `/\`) || id == "." || id == ".." {
		return nil, &maim.UsageError{Err: fmt.Errorf("operation ID %q", id)}
	}
	base := filepath.Join(dir, id)
	if _, err := os.Stat(base + ".log"); err != nil {
		return nil, fmt.Errorf("%w: operation %s of project %s", maim.ErrNotFound, id, name)
	}
	pid := 0
	alive := func() bool {
		if pid == 0 { // its parent writes ID.json right after the start
			if b, err := os.ReadFile(base + ".json"); err == nil {
				var m opMeta
				if json.Unmarshal(b, &m) == nil {
					pid = m.PID
				}
			}
		}
		return pid == 0 || processAlive(pid)
	}
	end, err := follow(ctx, base+".log", s.cfg.Err, alive, 100*time.Millisecond)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, fmt.Errorf("stopped following operation %s, which goes on (`docker maim attach %s`): %w", id, id, err)
		}
		return nil, fmt.Errorf("operation %s: %w", id, err)
	}
	out, _ := os.ReadFile(base + ".out")
	return &maim.AttachResult{ID: id, ExitCode: end.End.ExitCode, Output: out}, nil
}

// newestOp is the newest operation in dir, or "".
func newestOp(dir string) string {
	ids := opIDs(dir)
	if len(ids) == 0 {
		return ""
	}
	return ids[len(ids)-1]
}

// keepOps is how many detached operations a project's ops dir keeps (the newest).
const keepOps = 20

// pruneOps removes the files of all but the newest keep operations in dir, never those of
// one whose process still runs.
func pruneOps(dir string, keep int) {
	ids := opIDs(dir)
	for i := 0; i < len(ids)-keep; i++ {
		base := filepath.Join(dir, ids[i])
		if b, err := os.ReadFile(base + ".json"); err == nil {
			var m opMeta
			if json.Unmarshal(b, &m) == nil && m.PID > 0 && processAlive(m.PID) {
				continue
			}
		}
		for _, ext := range []string{".json", ".out", ".log"} {
			_ = os.Remove(base + ext)
		}
	}
}

// opIDs are the operations in dir, oldest first (IDs sort by time).
func opIDs(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var ids []string
	for _, e := range ents {
		if id, ok := strings.CutSuffix(e.Name(), ".log"); ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// runningOp is the newest detached operation in dir when it still runs: its process is
// alive and its log has no end line yet; else nil.
func runningOp(dir string) *maim.DetachedOperation {
	id := newestOp(dir)
	if id == "" {
		return nil
	}
	base := filepath.Join(dir, id)
	b, err := os.ReadFile(base + ".json")
	var m opMeta
	if err != nil || json.Unmarshal(b, &m) != nil || m.PID <= 0 || !processAlive(m.PID) {
		return nil
	}
	if log, err := os.ReadFile(base + ".log"); err == nil {
		lines := strings.Split(strings.TrimSuffix(string(log), "\n"), "\n")
		if _, ended := maim.ParseDetachedEnd([]byte(lines[len(lines)-1])); ended {
			return nil
		}
	}
	op := &maim.DetachedOperation{ID: id, PID: m.PID, Started: m.Started}
	for _, a := range m.Args {
		if a == "upgrade" || a == "restore" || a == "rollback" {
			op.Verb = a
			break
		}
	}
	return op
}
