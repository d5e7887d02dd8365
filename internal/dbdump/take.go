package dbdump

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/docker-maim/docker-maim/internal/svchooks"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// Engine is what taking a dump needs of the Docker engine: its exec API, and the
// container's configuration (ForContainer).
type Engine interface {
	ContainerInspect(ctx context.Context, container string, options client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	ExecCreate(ctx context.Context, container string, options client.ExecCreateOptions) (client.ExecCreateResult, error)
	ExecAttach(ctx context.Context, execID string, options client.ExecAttachOptions) (client.ExecAttachResult, error)
	ExecInspect(ctx context.Context, execID string, options client.ExecInspectOptions) (client.ExecInspectResult, error)
}

// maxStderr is how much of the tool's standard error a failure shows (its end).
const maxStderr = 2 << 10

// Failure is a dump that failed: the tool exited non-zero, or the engine refused the exec.
// Stderr is the end of what the tool wrote there, trimmed.
type Failure struct {
	Service   string
	Container string
	Command   Command
	ExitCode  int
	Stderr    string
	Err       error
	// Verb is what failed: "dump" (the zero value) or "load".
	Verb string
}

func (f *Failure) Error() string {
	verb := f.Verb
	if verb == "" {
		verb = "dump"
	}
	what := fmt.Sprintf("the %s %s of service %s (%s, in container %s)", f.Command.Engine, verb, f.Service, strings.Join(f.Command.Argv, " "), short(f.Container))
	msg := what + fmt.Sprintf(" exited %d", f.ExitCode)
	if f.Err != nil {
		msg = fmt.Sprintf("%s failed: %v", what, f.Err)
	}
	if f.Stderr != "" {
		msg += "; its message: " + f.Stderr
	}
	return msg
}

func (f *Failure) Unwrap() error { return f.Err }

// ForContainer is Plan for running container id: its image reference and environment as
// the engine reports them (the image's and the service's merged). It returns the image
// reference too (the manifest records it).
func ForContainer(ctx context.Context, eng Engine, kind, id string) (Command, string, error) {
	ci, err := eng.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return Command{}, "", err
	}
	var ref string
	var env []string
	if c := ci.Container.Config; c != nil {
		ref, env = c.Image, c.Env
	}
	c, err := Plan(kind, ref, env)
	return c, ref, err
}

// Take runs c inside the running container id (of service) and streams the tool's
// standard output into w; it returns once the tool ended. nil means it exited 0 and all it
// wrote reached w; otherwise a *Failure. A cancelled ctx ends the attach (the tool then
// dies of a closed pipe).
func Take(ctx context.Context, eng Engine, service, id string, c Command, w io.Writer) error {
	fail := &Failure{Service: service, Container: id, Command: c}
	cr, err := eng.ExecCreate(ctx, id, client.ExecCreateOptions{
		AttachStdout: true, AttachStderr: true, Env: c.ExecEnv(), Cmd: c.Exec(),
	})
	if err != nil {
		fail.Err = err
		return fail
	}
	ar, err := eng.ExecAttach(ctx, cr.ID, client.ExecAttachOptions{})
	if err != nil {
		fail.Err = err
		return fail
	}
	stderr := &svchooks.Tail{Max: maxStderr}
	done := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(w, stderr, ar.Reader)
		done <- err
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		ar.Close()
		<-done
		fail.Err, fail.Stderr = ctx.Err(), stderr.String()
		return fail
	}
	ar.Close()
	fail.Stderr = stderr.String()
	if err != nil && !errors.Is(err, io.EOF) {
		fail.Err = fmt.Errorf("streaming its output: %w", err)
		return fail
	}
	code, err := svchooks.ExitCode(ctx, eng, cr.ID)
	if err != nil {
		fail.Err = err
		return fail
	}
	if code != 0 {
		fail.ExitCode = code
		return fail
	}
	return nil
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
