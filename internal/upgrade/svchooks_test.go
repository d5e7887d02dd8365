package upgrade

import (
	"context"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/project"
)

// The plan lists watchtower's pre/post-update commands only for the services whose image
// changes (as watchtower runs them for a container it updates), the others as not run; the
// backup's commands for every service; a label that cannot be used refuses the plan.
func TestPlanServiceHooks(t *testing.T) {
	svc := func(name string, labels map[string]string) types.ServiceConfig {
		s := types.ServiceConfig{Name: name}
		s.Labels = labels
		return s
	}
	labels := map[string]string{
		"com.centurylinklabs.watchtower.lifecycle.pre-update":  "pre",
		"com.centurylinklabs.watchtower.lifecycle.post-update": "post",
		"docker-volume-backup.archive-pre":                     "dump",
	}
	p := &project.Project{Project: &types.Project{Name: "p", Services: types.Services{
		"app": svc("app", labels), "db": svc("db", labels),
	}}}
	pl := &planning{m: &Manager{}, p: p, data: p, plan: &Plan{Plan: maim.Plan{Changes: []ImageChange{
		{Service: "app", OldID: "sha256:1", NewID: "sha256:2"},
		{Service: "db", OldID: "sha256:3", NewID: "sha256:3"},
	}}}}
	if err := readServiceHooks(context.Background(), pl); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range pl.plan.ServiceHooks.Commands {
		got = append(got, c.Service+" "+c.When)
	}
	if want := "app pre-upgrade,app pre-backup,db pre-backup,app post-upgrade"; strings.Join(got, ",") != want {
		t.Errorf("commands %q, want %q", strings.Join(got, ","), want)
	}
	if ig := strings.Join(pl.plan.ServiceHooks.Ignored, "\n"); !strings.Contains(ig, "db: com.centurylinklabs.watchtower.lifecycle.pre-update not run: its image does not change") ||
		!strings.Contains(ig, "db: com.centurylinklabs.watchtower.lifecycle.post-update not run") {
		t.Errorf("ignored %q: db's update commands not said to be left out", ig)
	}

	p.Services["db"] = svc("db", map[string]string{"com.centurylinklabs.watchtower.lifecycle.pre-update-timeout": "soon"})
	p.Services["db"].Labels["com.centurylinklabs.watchtower.lifecycle.pre-update"] = "x"
	if err := readServiceHooks(context.Background(), pl); err == nil || !strings.Contains(err.Error(), "service db") {
		t.Errorf("a timeout that is no number: err %v", err)
	}
}
