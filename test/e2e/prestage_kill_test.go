package e2e

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/helper"
	"github.com/docker-maim/docker-maim/internal/testrig/treediff"
	"github.com/docker-maim/docker-maim/internal/volume"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// stageKillProject is prestageProject with data enough to hold the stage: four files of
// 2 MiB (a file of more than a MiB is written as it is read, so the first one is in the
// stage dir while the stage is held after its first MiB), backed up, then all rewritten.
func stageKillProject(t *testing.T, name string) (*restoreProject, string, treediff.Tree) {
	p := newRestoreProject(t, name)
	big := map[string]string{}
	for i := range 4 {
		big[fmt.Sprintf("big/f%d.bin", i)] = string(bytes.Repeat([]byte{byte('a' + i)}, 2<<20))
	}
	writeTree(t, p.vol, big)
	time.Sleep(3100 * time.Millisecond) // the files older than the backup's ctime margin
	id := p.backup()
	want := treediff.Of(t, p.vol)
	for f := range big {
		big[f] = strings.Repeat("changed by the upgrade "+f+"\n", 100000)
	}
	big["db/data.bin"] = "rows v2\n"
	writeTree(t, p.vol, big)
	return p, id, want
}

// stagingHelper is the helper container that stages appdata, waited for until the engine
// removed it.
func stagingHelper(t *testing.T, p *restoreProject) (string, client.ContainerWaitResult) {
	t.Helper()
	hs, err := p.Client.ContainerList(context.Background(), client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", volume.LabelHelper+"="+volume.LabelValueContainer).Add("volume", p.Name+"_appdata")})
	must(t, err)
	var ids []string
	for _, h := range hs.Items {
		if strings.Contains(h.Command, "diffstage") && !strings.Contains(h.Command, "--drop") {
			ids = append(ids, h.ID)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("want the one helper staging appdata, have %v", ids)
	}
	return ids[0], p.Client.ContainerWait(context.Background(), ids[0], client.ContainerWaitOptions{Condition: container.WaitConditionRemoved})
}

// TestPrestageKilledWhileStaging: a kill -9 of docker-maim while its helper writes the stage
// (MAIM_NO_HOST_PATH: the helper path; the stage held by helper.FailpointEnv after its first
// MiB, a file in the stage dir) leaves a helper that stops by itself with the abort code,
// removes its stage and is removed by the engine; the services were never stopped (the same
// containers run, the engine reported no die of them) and the data is as the kill found
// it. The journal left is resolved by `rollback` (the restore's: nothing to undo; the
// rollback's: finished, the backup's tree); a backup taken then holds no stage (put back
// through the helper path, it leaves no stage dir and the same tree) and a restore of the
// original backup gives it back byte for byte, with no stage dir left.
func TestPrestageKilledWhileStaging(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	for _, op := range []string{"restore", "rollback"} {
		t.Run(op, func(t *testing.T) {
			p, id, want := stageKillProject(t, "prestage-midkill-"+op)
			args := append(append([]string(nil), restoreArgs...), id)
			if op == "rollback" {
				args = []string{"rollback", id, "--stable-period", "1s", "--timeout", "2m"}
			}
			helperPath := []string{volume.EnvNoHostPath + "=1"}
			before := treediff.Of(t, p.vol)
			running := map[string]string{}
			for svc, c := range p.containers() {
				if !c.State.Running {
					t.Fatalf("%s does not run before the %s", svc, op)
				}
				running[c.ID] = svc
			}

			evlog := recordEvents(t, p.Client)
			run := p.maimStart(append(helperPath, helper.FailpointEnv+"="+helper.FailpointHoldRestore), args...)
			run.until(t, 5*time.Minute, "a file in the stage dir", func() bool {
				s := stageDirsIn(t, p.vol)
				if len(s) != 1 {
					return false
				}
				ents, _ := os.ReadDir(filepath.Join(p.vol, s[0]))
				return len(ents) > 0
			})
			hid, removed := stagingHelper(t, p)
			must(t, syscall.Kill(pluginChild(t, run.cmd.Process.Pid), syscall.SIGKILL))
			wantKilled(t, run.wait(t, 2*time.Minute))
			select {
			case res := <-removed.Result:
				if res.StatusCode != helper.ExitAborted {
					t.Errorf("the orphaned stage helper exited with %d, want %d (aborted)", res.StatusCode, helper.ExitAborted)
				}
			case err := <-removed.Error:
				t.Fatalf("waiting for the stage helper: %v", err)
			case <-time.After(3 * time.Minute):
				t.Fatal("the orphaned stage helper is still there")
			}
			if _, err := p.Client.ContainerInspect(context.Background(), hid, client.ContainerInspectOptions{}); err == nil {
				t.Errorf("the stage helper %s is left behind", hid)
			}
			if s := stageDirsIn(t, p.vol); len(s) != 0 {
				t.Errorf("stage dirs left by the aborted stage: %v", s)
			}
			for _, m := range evlog.stop() {
				if svc, ok := running[m.Actor.ID]; ok && (m.Action == "die" || m.Action == "stop" || m.Action == "kill") {
					t.Errorf("%s got %q while the %s staged", svc, m.Action, op)
				}
			}
			for svc, c := range p.containers() {
				if running[c.ID] != svc || !c.State.Running {
					t.Errorf("%s is not the container that ran before the %s (%s, running %v)", svc, op, c.ID, c.State.Running)
				}
			}
			wantSameTree(t, "after the kill mid-stage", maps.Clone(before), treediff.Of(t, p.vol))

			if st := p.status(); st.Interrupted == nil {
				t.Errorf("the kill mid-stage left no interrupted %s to resolve", op)
			}
			mustOK(t, p.maim("rollback", "--stable-period", "1s", "--timeout", "2m"))
			p.wantNoJournal()
			// A restore killed before its stop changed nothing: its resolution starts what
			// ran. An interrupted `rollback ID` is resolved by finishing it: the backup's tree.
			resolved, to := treediff.Of(t, p.vol), maps.Clone(before)
			if op == "rollback" {
				to = maps.Clone(want)
			}
			wantSameTree(t, "after the journal's rollback", to, maps.Clone(resolved))
			if s := stageDirsIn(t, p.vol); len(s) != 0 {
				t.Errorf("stage dirs left by the journal's rollback: %v", s)
			}

			now := backupID(t, mustOK(t, p.maimWith(helperPath, "backup")))
			mb, err := os.ReadFile(filepath.Join(p.backupPath(now), "manifest.json"))
			must(t, err)
			if regexp.MustCompile(`\.maim-stage-[0-9a-f]{32}`).Match(mb) {
				t.Errorf("backup %s records a stage: %s", now, mb)
			}
			mustOK(t, p.maimWith(helperPath, append(append([]string(nil), restoreArgs...), now, "--no-safety-backup")...))
			if s := stageDirsIn(t, p.vol); len(s) != 0 {
				t.Errorf("the backup taken after the resolution, put back, leaves stage dirs: %v", s)
			}
			wantSameTree(t, "the backup taken after the resolution, put back", resolved, treediff.Of(t, p.vol))

			mustOK(t, p.maimWith(helperPath, append(append([]string(nil), restoreArgs...), id)...))
			wantSameTree(t, "after the restore of the original backup", want, treediff.Of(t, p.vol))
			if s := stageDirsIn(t, p.vol); len(s) != 0 {
				t.Errorf("stage dirs left by the restore: %v", s)
			}
			p.wantNoJournal()
		})
	}
}
