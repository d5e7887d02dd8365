package testrig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/flags"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/docker/compose/v5/pkg/compose"
)

var composeCLI struct {
	once sync.Once
	ok   bool
}

// HaveComposeCLI reports whether `docker compose version` works on this machine.
func HaveComposeCLI() bool {
	composeCLI.once.Do(func() {
		if os.Getenv("MAIM_TEST_COMPOSE_SDK") != "" {
			return // forced SDK fallback
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		composeCLI.ok = exec.CommandContext(ctx, "docker", "compose", "version").Run() == nil
	})
	return composeCLI.ok
}

// Compose runs a docker compose command on p (with -p, --project-directory and -f set) and
// returns its combined output; it fails the test when the command fails. See ComposeE.
func Compose(t testing.TB, p *Proj, args ...string) string {
	t.Helper()
	out, err := ComposeE(t, p, args...)
	if err != nil {
		t.Fatalf("testrig: compose %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// ComposeE is Compose returning the error instead of failing. It runs the real
// `docker compose` CLI plugin when installed; otherwise the compose v5 SDK, which understands:
//
//	up [-d] [--wait] [--wait-timeout N] [--force-recreate] [--no-recreate] [--remove-orphans] [--no-start] [SERVICE...]
//	down [-v|--volumes] [--remove-orphans] [--rmi local|all]
//	stop|start|restart [SERVICE...]      pull [SERVICE...]
//	ps [-a] [-q] [SERVICE...]            (ps prints "NAME SERVICE STATE HEALTH EXITCODE" lines)
//
// `up` is always detached. Any prompt (e.g. recreating a volume whose config changed) is
// answered "no". Set MAIM_TEST_COMPOSE_SDK=1 to force the SDK.
func ComposeE(t testing.TB, p *Proj, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if HaveComposeCLI() {
		full := append([]string{"compose", "-p", p.Name, "--project-directory", p.Dir, "-f", p.File}, args...)
		cmd := exec.CommandContext(ctx, "docker", full...)
		cmd.Dir = p.Dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	return composeSDK(ctx, p, args)
}

type sdkArgs struct {
	cmd      string
	flags    map[string]string
	services []string
}

// parseSDKArgs splits args into the command, its flags (value "" for booleans) and services.
func parseSDKArgs(args []string, valued map[string]bool) (sdkArgs, error) {
	if len(args) == 0 {
		return sdkArgs{}, errors.New("no compose command")
	}
	a := sdkArgs{cmd: args[0], flags: map[string]string{}}
	for i := 1; i < len(args); i++ {
		s := args[i]
		if !strings.HasPrefix(s, "-") {
			a.services = append(a.services, s)
			continue
		}
		name, val, hasVal := strings.Cut(s, "=")
		if valued[name] && !hasVal {
			if i+1 >= len(args) {
				return a, fmt.Errorf("flag %s needs a value", name)
			}
			i++
			val = args[i]
		}
		a.flags[name] = val
	}
	return a, nil
}

// composeSDK runs a compose command on p through the compose v5 SDK: the commands and flags
// ComposeE lists, checked first, then run on the project loaded from p's file.
func composeSDK(ctx context.Context, p *Proj, args []string) (string, error) {
	var out bytes.Buffer
	a, err := parseSDKArgs(args, map[string]bool{"--wait-timeout": true, "--rmi": true, "-t": true, "--timeout": true})
	if err != nil {
		return "", err
	}
	if err := a.supported(); err != nil {
		return "", err
	}
	timeout, waitTimeout, err := a.durations()
	if err != nil {
		return "", err
	}
	dockerCli, err := command.NewDockerCli()
	if err != nil {
		return "", err
	}
	if err := dockerCli.Initialize(&flags.ClientOptions{}); err != nil {
		return "", err
	}
	defer dockerCli.Client().Close()
	svc, err := compose.NewComposeService(dockerCli,
		compose.WithStreams(&out, &out, strings.NewReader("")),
		compose.WithPrompt(func(msg string, _ bool) (bool, error) {
			fmt.Fprintf(&out, "%s -> answered no\n", msg)
			return false, nil
		}))
	if err != nil {
		return "", err
	}
	project, err := svc.LoadProject(ctx, api.ProjectLoadOptions{
		ProjectName: p.Name,
		ConfigPaths: []string{p.File},
		WorkingDir:  p.Dir,
	})
	if err != nil {
		return out.String(), err
	}
	err = a.run(ctx, svc, project, timeout, waitTimeout, &out)
	return out.String(), err
}

// sdkFlags are the flags the SDK fallback understands, per command.
var sdkFlags = map[string][]string{
	"up":      {"-d", "--detach", "--wait", "--wait-timeout", "--force-recreate", "--no-recreate", "--remove-orphans", "--no-start"},
	"down":    {"-v", "--volumes", "--remove-orphans", "--rmi", "-t", "--timeout"},
	"stop":    {"-t", "--timeout"},
	"start":   {},
	"restart": {"-t", "--timeout"},
	"pull":    {"-q", "--quiet"},
	"ps":      {"-a", "--all", "-q", "--quiet"},
}

// supported refuses a command or a flag the SDK fallback does not understand.
func (a sdkArgs) supported() error {
	allowed, ok := sdkFlags[a.cmd]
	if !ok {
		return fmt.Errorf("testrig: `compose %s` is not supported by the SDK fallback (no docker compose CLI plugin)", a.cmd)
	}
	for f := range a.flags {
		found := false
		for _, k := range allowed {
			found = found || k == f
		}
		if !found {
			return fmt.Errorf("testrig: compose %s: flag %s not supported by the SDK fallback", a.cmd, f)
		}
	}
	return nil
}

// has tells whether any of the flags names was given.
func (a sdkArgs) has(names ...string) bool {
	for _, n := range names {
		if _, ok := a.flags[n]; ok {
			return true
		}
	}
	return false
}

// durations reads -t/--timeout (nil when not given) and, for an `up` that starts,
// --wait-timeout (0 when not given), both in seconds.
func (a sdkArgs) durations() (timeout *time.Duration, waitTimeout time.Duration, err error) {
	if v := a.flags["-t"] + a.flags["--timeout"]; v != "" {
		d, err := time.ParseDuration(v + "s")
		if err != nil {
			return nil, 0, fmt.Errorf("bad timeout %q", v)
		}
		timeout = &d
	}
	if v := a.flags["--wait-timeout"]; v != "" && a.cmd == "up" && !a.has("--no-start") {
		if waitTimeout, err = time.ParseDuration(v + "s"); err != nil {
			return nil, 0, fmt.Errorf("bad --wait-timeout %q", v)
		}
	}
	return timeout, waitTimeout, nil
}

// run runs the command on project through the SDK; ps prints its lines to out.
func (a sdkArgs) run(ctx context.Context, svc api.Compose, project *types.Project, timeout *time.Duration, waitTimeout time.Duration, out io.Writer) error {
	var err error
	switch a.cmd {
	case "up":
		return a.up(ctx, svc, project, timeout, waitTimeout)
	case "down":
		err = svc.Down(ctx, project.Name, api.DownOptions{
			Project:       project,
			RemoveOrphans: a.has("--remove-orphans"),
			Volumes:       a.has("-v", "--volumes"),
			Images:        a.flags["--rmi"],
			Timeout:       timeout,
		})
	case "stop":
		err = svc.Stop(ctx, project.Name, api.StopOptions{Project: project, Services: a.services, Timeout: timeout})
	case "start":
		err = svc.Start(ctx, project.Name, api.StartOptions{Project: project, Services: a.services})
	case "restart":
		err = svc.Restart(ctx, project.Name, api.RestartOptions{Project: project, Services: a.services, Timeout: timeout})
	case "pull":
		if len(a.services) > 0 {
			if project, err = project.WithSelectedServices(a.services); err != nil {
				return err
			}
		}
		err = svc.Pull(ctx, project, api.PullOptions{Quiet: a.has("-q", "--quiet")})
	case "ps":
		var cs []api.ContainerSummary
		cs, err = svc.Ps(ctx, project.Name, api.PsOptions{Project: project, All: a.has("-a", "--all"), Services: a.services})
		for _, c := range cs {
			if a.has("-q", "--quiet") {
				fmt.Fprintln(out, c.ID)
				continue
			}
			fmt.Fprintf(out, "%s %s %s %s %d\n", c.Name, c.Service, c.State, c.Health, c.ExitCode)
		}
	}
	return err
}

// up creates (--no-start) or creates and starts the project's services, always detached.
func (a sdkArgs) up(ctx context.Context, svc api.Compose, project *types.Project, timeout *time.Duration, waitTimeout time.Duration) error {
	recreate := api.RecreateDiverged
	if a.has("--force-recreate") {
		recreate = api.RecreateForce
	}
	if a.has("--no-recreate") {
		recreate = api.RecreateNever
	}
	create := api.CreateOptions{
		Services:             a.services,
		RemoveOrphans:        a.has("--remove-orphans"),
		Recreate:             recreate,
		RecreateDependencies: api.RecreateDiverged,
		Inherit:              true,
		Timeout:              timeout,
		QuietPull:            true,
	}
	if a.has("--no-start") {
		return svc.Create(ctx, project, create)
	}
	return svc.Up(ctx, project, api.UpOptions{
		Create: create,
		Start: api.StartOptions{
			Project:     project,
			Services:    a.services,
			Wait:        a.has("--wait"),
			WaitTimeout: waitTimeout,
		},
	})
}
