package upgrade

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/project"
)

// TestPlanStepsInOrder: the plan's steps run in this order, and an error refuses the plan
// made so far from the compose-file edits on (the targets are known then), never before.
func TestPlanStepsInOrder(t *testing.T) {
	want := []string{"pre-start", "image-flags", "what-runs", "targets", "compare", "file-edits", "service-hooks", "breaking", "config-merges", "sources", "databases", "sizes", "space", "migrate-db", "adoption", "maibot"}
	var got []string
	for _, st := range planSteps {
		got = append(got, st.name)
		if wantRefuses := slices.Index(want, st.name) >= slices.Index(want, "file-edits"); st.refuses != wantRefuses {
			t.Errorf("step %s: refuses %v, want %v", st.name, st.refuses, wantRefuses)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("steps %v, want %v", got, want)
	}
}

// TestMakePlanReturnsThePlanOnlyWithARefusal: an error before the targets are known
// returns no plan; a refusal returns the plan made so far with it.
func TestMakePlanReturnsThePlanOnlyWithARefusal(t *testing.T) {
	for _, tc := range []struct {
		name     string
		setup    func(r *txRig) Options
		wantErr  string
		wantPlan bool
	}{
		{"--image for no service", func(*txRig) Options { return Options{Images: map[string]string{"web": "web:2"}} },
			`the project has no service "web"`, false},
		{"a pull that fails without a local image", func(r *txRig) Options {
			r.eng.errs["pull bot:2"] = errPull
			return Options{Images: map[string]string{"bot": "bot:2"}}
		}, "pulling bot:2 for bot", false},
		{"--reset-data for no source", func(*txRig) Options { return Options{ResetData: []string{"nope"}} },
			"--reset-data nope: no such data source", true},
		{"no room for the backup", func(r *txRig) Options {
			r.store.Repo = freeRepo{LocalDir: r.store.Repo.(backup.LocalDir), free: 1}
			r.m.Store, r.m.Snapshots.Store = r.store, r.store
			return Options{}
		}, "not enough space for the backup", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newTxRig(t)
			opts := tc.setup(r)
			plan, err := r.m.makePlan(context.Background(), r.p, nil, opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("makePlan error %v, want %q", err, tc.wantErr)
			}
			if (plan != nil) != tc.wantPlan {
				t.Fatalf("makePlan returned plan %v, want one: %v", plan != nil, tc.wantPlan)
			}
		})
	}
}

var errPull = errors.New("pull refused")

// planThrough runs the steps up to and including last on the rig's project.
func planThrough(t *testing.T, r *txRig, opts Options, last string) (*planning, error) {
	t.Helper()
	pl := newPlanning(r.m, r.p, nil, opts)
	for _, st := range planSteps {
		if err := st.run(context.Background(), pl); err != nil {
			return pl, err
		}
		if st.name == last {
			return pl, nil
		}
	}
	t.Fatalf("no step %q", last)
	return nil, nil
}

// TestResolveTargets: services in dependency order, each with the image it runs and the
// one it is to run, pulled; a floating tag the pull moved is remembered (pulled), as is a
// reference the pull brought in (fresh), so that unpull can undo both.
func TestResolveTargets(t *testing.T) {
	t.Run("floating tag", func(t *testing.T) {
		r := newTxRig(t)
		pl, err := planThrough(t, r, Options{}, "compare")
		if err != nil {
			t.Fatal(err)
		}
		plan := pl.plan
		if got := r.eng.Calls(); !slices.Equal(got, []string{"pull db:16", "pull bot:latest"}) {
			t.Errorf("engine calls %v, want the pulls in dependency order", got)
		}
		if len(plan.Changes) != 2 || plan.Changes[0].Service != "db" || plan.Changes[1].Service != "bot" {
			t.Fatalf("changes %+v", plan.Changes)
		}
		db, bot := plan.Changes[0], plan.Changes[1]
		if db.Changed() || db.OldID != "sha256:db" || db.OldRef != "db:16" {
			t.Errorf("db %+v: want unchanged on sha256:db", db)
		}
		if !bot.Changed() || bot.OldID != "sha256:old" || bot.NewID != "sha256:new" || bot.OldRef != "bot:latest" {
			t.Errorf("bot %+v: want sha256:old -> sha256:new", bot)
		}
		if len(plan.pulled) != 1 || plan.pulled[0].Service != "bot" || len(plan.fresh) != 0 {
			t.Errorf("pulled %+v, fresh %v: want bot's tag, nothing fresh", plan.pulled, plan.fresh)
		}
		if plan.NothingToDo {
			t.Error("NothingToDo with bot changing")
		}
	})
	t.Run("--image brought in by the pull", func(t *testing.T) {
		r := newTxRig(t)
		r.eng.pullTo["bot:2"] = "sha256:new"
		pl, err := planThrough(t, r, Options{Images: map[string]string{"bot": "bot:2"}}, "targets")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(pl.plan.fresh, []string{"bot:2"}) || len(pl.plan.pulled) != 0 {
			t.Errorf("fresh %v, pulled %+v: want bot:2 fresh, no tag moved", pl.plan.fresh, pl.plan.pulled)
		}
	})
	t.Run("a failed pull of a local image", func(t *testing.T) {
		r := newTxRig(t)
		r.eng.errs["pull bot:latest"] = errPull
		pl, err := planThrough(t, r, Options{}, "compare")
		if err != nil {
			t.Fatal(err)
		}
		if w := strings.Join(pl.plan.Warnings, "\n"); !strings.Contains(w, "pulling bot:latest failed (pull refused): using the local image") {
			t.Errorf("warnings %q", w)
		}
		if !pl.plan.NothingToDo {
			t.Error("the local images run already: want nothing to do")
		}
	})
	t.Run("current image by ID, and a service without a container", func(t *testing.T) {
		r := newTxRig(t)
		r.eng.ctrs[0].ref = "sha256:db" // db's container names only its image's ID
		r.eng.ctrs = r.eng.ctrs[:1]     // bot has no container
		pl, err := planThrough(t, r, Options{}, "targets")
		if err != nil {
			t.Fatal(err)
		}
		db, bot := pl.plan.Changes[0], pl.plan.Changes[1]
		if db.OldRef != "db:16" || db.OldID != "sha256:db" {
			t.Errorf("db %+v: want the compose file's reference", db)
		}
		if bot.OldRef != "" || bot.OldID != "" {
			t.Errorf("bot %+v: want no current image", bot)
		}
	})
}

// TestCheckSpace: the room a backup needs (the data, a margin, and for a two-pass backup
// the delta), and the downtime: the stopped pass at the assumed rate, plus five seconds.
func TestCheckSpace(t *testing.T) {
	data := int64(deltaShare * backupRate) // a two-pass delta takes one second
	for _, tc := range []struct {
		name     string
		running  bool
		onePass  bool
		free     int64
		refused  bool
		downtime time.Duration
	}{
		{"two-pass", true, false, data + 64<<20 + data/deltaShare, false, 6 * time.Second},
		{"two-pass, no room for the delta", true, false, data + 64<<20, true, 0},
		{"one-pass", true, true, data + 64<<20, false, (5 + deltaShare) * time.Second},
		{"nothing runs: one pass", false, false, data + 64<<20, false, (5 + deltaShare) * time.Second},
		{"free space unknown", true, false, -1, false, 6 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newTxRig(t)
			r.store.Repo = freeRepo{LocalDir: r.store.Repo.(backup.LocalDir), free: tc.free}
			r.m.Store = r.store
			pl := newPlanning(r.m, r.p, nil, Options{OnePass: tc.onePass})
			pl.plan.BackupBytes = data
			if tc.running {
				pl.plan.running = project.Running{Services: []string{"bot"}, IDs: map[string][]string{"bot": {"bot-1"}}}
			}
			err := checkSpace(context.Background(), pl)
			if tc.refused {
				if err == nil || !strings.Contains(err.Error(), "not enough space") {
					t.Fatalf("checkSpace = %v, want a refusal", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if pl.plan.FreeBytes != tc.free || pl.plan.Downtime != tc.downtime {
				t.Errorf("free %d, downtime %v; want %d, %v", pl.plan.FreeBytes, pl.plan.Downtime, tc.free, tc.downtime)
			}
		})
	}
}

// TestShowAdoption: without --compose-file the plan has no adoption; with it, the plan
// shows it, gains its warnings and findings, and always has something to do.
func TestShowAdoption(t *testing.T) {
	r := newTxRig(t)
	pl := newPlanning(r.m, r.p, nil, Options{})
	pl.plan.NothingToDo = true
	if err := showAdoption(context.Background(), pl); err != nil || pl.plan.Adoption != nil || !pl.plan.NothingToDo {
		t.Fatalf("without an adoption: %v, %+v", err, pl.plan)
	}
	ad := &Adoption{
		Adoption: maim.Adoption{
			ServicesRemoved: []string{"old"},
			VolumesChanged:  []VolumeChange{{Volume: "db", Name: "demo_db", What: []string{"driver local -> nfs"}}},
			Warnings:        []string{"kept service x"},
		},
		newp: r.p,
	}
	pl = newPlanning(r.m, r.p, ad, Options{})
	pl.plan.NothingToDo = true
	pl.plan.Warnings = []string{"before"}
	if err := showAdoption(context.Background(), pl); err != nil {
		t.Fatal(err)
	}
	plan := pl.plan
	if plan.Adoption != &ad.Adoption || plan.adoption != ad || plan.NothingToDo || !slices.Equal(plan.Warnings, []string{"before", "kept service x"}) {
		t.Errorf("plan %+v", plan)
	}
	if len(plan.Breaking) != 2 || plan.Breaking[0].Service != "compose file" || plan.Breaking[1].Service != "volume db" {
		t.Errorf("findings %+v: want the layout, then the volume", plan.Breaking)
	}
}

// TestPlanOfAnAdoptionIsTheMergedProjects: with --compose-file the steps plan the merged
// project (its pre_start hooks, its services) while data stays the running project.
func TestPlanOfAnAdoptionIsTheMergedProjects(t *testing.T) {
	r := newTxRig(t)
	newp := r.model()
	ad := &Adoption{newp: newp}
	pl := newPlanning(r.m, r.p, ad, Options{})
	if pl.p != newp || pl.data != r.p || pl.plan.Project != "demo" {
		t.Errorf("planning p %p data %p; want the merged project %p and the running one %p", pl.p, pl.data, newp, r.p)
	}
}
