package health

// The rules: how the gate judges one container at each poll.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// check inspects w and returns a *Failure, or updates w.done / w.pending: it notes what the
// engine says of the container (observe), then judges it by its state.
func (g *gate) check(ctx context.Context, w *watched) *Failure {
	c, now, f := g.observe(ctx, w)
	if f != nil || c == nil {
		return f
	}
	st := c.State
	switch st.Status {
	case container.StateRestarting:
		return g.fail(ctx, w, fmt.Sprintf("restarting (crash loop; last exit code %d)", st.ExitCode))
	case container.StateDead, container.StateRemoving:
		return g.fail(ctx, w, "container is "+string(st.Status))
	case container.StateExited:
		return g.checkExited(ctx, w, c)
	case container.StateCreated:
		w.pending = "not started"
		g.report(w.service, "waiting: not started")
		return nil
	case container.StatePaused:
		w.pending = "paused"
		g.report(w.service, "waiting: paused")
		return nil
	}
	return g.checkRunning(ctx, w, st, now)
}

// observe inspects w, notes its name and, at first sight, its restart count and start, and
// fails it when it restarted since. It returns the container (nil with a nil Failure when ctx
// ended) and the time it was seen.
func (g *gate) observe(ctx context.Context, w *watched) (*container.InspectResponse, time.Time, *Failure) {
	res, err := g.cli.ContainerInspect(ctx, w.id, client.ContainerInspectOptions{})
	if err != nil {
		if ctx.Err() != nil {
			return nil, time.Time{}, nil
		}
		return nil, time.Time{}, g.fail(ctx, w, "inspect: "+err.Error())
	}
	c := res.Container
	w.name = strings.TrimPrefix(c.Name, "/")
	st := c.State
	if st == nil {
		return nil, time.Time{}, g.fail(ctx, w, "engine reported no state")
	}
	now := g.clock.Now()
	if w.restartCount < 0 {
		w.restartCount, w.startedAt, w.stableSince = c.RestartCount, st.StartedAt, now
	}
	if c.RestartCount != w.restartCount || (st.StartedAt != w.startedAt && !isZeroTime(w.startedAt)) {
		return nil, time.Time{}, g.fail(ctx, w, fmt.Sprintf("restarted (restart count %d -> %d, exit code %d)", w.restartCount, c.RestartCount, st.ExitCode))
	}
	if isZeroTime(w.startedAt) && !isZeroTime(st.StartedAt) {
		// first start seen after the gate began (it was "created")
		w.startedAt, w.stableSince = st.StartedAt, now
	}
	return &c, now, nil
}

// checkExited judges an exited container: it passes only with code 0, when it may finish
// (a declared one-shot, or restart policy "no" or "on-failure"), and after its ready log.
func (g *gate) checkExited(ctx context.Context, w *watched, c *container.InspectResponse) *Failure {
	st := c.State
	policy := container.RestartPolicy{}
	if c.HostConfig != nil {
		policy = c.HostConfig.RestartPolicy
	}
	oneShot := g.opts.OneShot[w.service]
	if st.ExitCode != 0 {
		reason := fmt.Sprintf("exited with code %d", st.ExitCode)
		if st.OOMKilled {
			reason += " (OOM killed)"
		}
		if st.Error != "" {
			reason += ": " + st.Error
		}
		return g.fail(ctx, w, reason)
	}
	if !oneShot && !policy.IsNone() && !policy.IsOnFailure() {
		return g.fail(ctx, w, fmt.Sprintf("exited with code 0 but has restart policy %q (declare it one_shot if it is meant to finish)", policy.Name))
	}
	if f := g.checkReadyLog(ctx, w, st.StartedAt); f != nil || !w.readyLogFound {
		if f == nil {
			return g.fail(ctx, w, "exited with code 0 without logging "+g.readyWhat(w.service))
		}
		return f
	}
	return g.ok(w, "completed")
}

// checkRunning judges a running container: its ready log first, then a one-shot waits to
// finish, then its healthcheck or, without one, the stable period since now's start.
func (g *gate) checkRunning(ctx context.Context, w *watched, st *container.State, now time.Time) *Failure {
	if f := g.checkReadyLog(ctx, w, st.StartedAt); f != nil {
		return f
	}
	if g.opts.OneShot[w.service] {
		w.pending = "one-shot still running"
		g.report(w.service, "waiting: running to completion")
		return nil
	}
	if !w.readyLogFound {
		g.waitForReadyLog(w)
		return nil
	}
	if st.Health != nil && st.Health.Status != container.NoHealthcheck && st.Health.Status != "" {
		return g.checkHealth(ctx, w, st.Health)
	}
	if g.opts.StablePeriod < 0 {
		return g.ok(w, "running")
	}
	if up := now.Sub(w.stableSince); up < g.opts.StablePeriod {
		w.pending = fmt.Sprintf("running %s of the %s stable period", up.Round(time.Second), g.opts.StablePeriod)
		g.report(w.service, "waiting: stable period")
		return nil
	}
	return g.ok(w, "running and stable")
}

// waitForReadyLog notes that w waits for its ready line, and reports whether it migrates.
func (g *gate) waitForReadyLog(w *watched) {
	w.pending = g.readyWhat(w.service) + " not seen"
	switch {
	case w.migrating && g.opts.Ready[w.service].MigratingState != "":
		g.report(w.service, g.opts.Ready[w.service].MigratingState)
	case w.migrating:
		g.report(w.service, "waiting: migrating")
	default:
		g.report(w.service, "waiting: ready log")
	}
}

// checkHealth judges a container by its healthcheck: healthy passes, unhealthy fails with
// the last probe's first line, anything else ("starting") waits.
func (g *gate) checkHealth(ctx context.Context, w *watched, h *container.Health) *Failure {
	switch h.Status {
	case container.Healthy:
		return g.ok(w, "healthy")
	case container.Unhealthy:
		reason := "unhealthy"
		if n := len(h.Log); n > 0 {
			if out := strings.TrimSpace(h.Log[n-1].Output); out != "" {
				reason += ": " + firstLine(out)
			}
		}
		return g.fail(ctx, w, reason)
	default:
		w.pending = "health " + string(h.Status)
		g.report(w.service, "waiting: health "+string(h.Status))
		return nil
	}
}

func (g *gate) ok(w *watched, state string) *Failure {
	w.done, w.pending = true, ""
	g.report(w.service, state)
	return nil
}

func isZeroTime(s string) bool { return s == "" || strings.HasPrefix(s, "0001-01-01") }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
