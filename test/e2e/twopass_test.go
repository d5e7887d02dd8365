package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/testrig"
	"github.com/docker-maim/docker-maim/internal/testrig/treediff"
	"github.com/moby/moby/client"
)

// churnCompose runs the stand-in bot changing its named volume and its bind dir all the time
// (BOT_CHURN: writes, renames, truncations, deletions, a file rewritten with its size and
// mtime put back) while it runs; stopped, it writes the digest of what it left
// (churn-digest) and churns no more.
const churnCompose = `services:
  app:
    image: {{bot:1.0.0}}
    environment:
      BOT_CHURN: /bot/data,/bot/bind
    volumes:
      - appdata:/bot/data
      - ./bind:/bot/bind
volumes:
  appdata: {}
`

// churnDigest is the stand-in bot's ChurnDigest (test/standin-bot/churn.go), computed here
// over restored data.
func churnDigest(t testing.TB, root string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(h, "%q %v %d %d\n", rel, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// wantChurnRestored: dir holds exactly what the churn left when the bot stopped.
func wantChurnRestored(t testing.TB, what, dir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "churn-digest"))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got := churnDigest(t, filepath.Join(dir, "churn")); got != strings.TrimSpace(string(b)) {
		t.Errorf("%s: %s/churn differs from what the bot left when it stopped (digest %s, the bot's %s)", what, dir, got, strings.TrimSpace(string(b)))
	}
}

// scramble changes dir so that a restore has everything to put back.
func scramble(t testing.TB, dir string) {
	t.Helper()
	must(t, os.RemoveAll(filepath.Join(dir, "churn")))
	must(t, os.MkdirAll(filepath.Join(dir, "churn", "stray"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "churn", "f00"), []byte("stray"), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "bulk", "b003"), []byte("short"), 0o644))
}

// seedBulk writes n files of 256 KiB (incompressible enough) under dir/bulk, so that pass
// one takes a while.
func seedBulk(t testing.TB, dir string, n int) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Join(dir, "bulk"), 0o755))
	buf := make([]byte, 256<<10)
	for i := range n {
		for j := range buf {
			buf[j] = byte(i*31 + j*7 + j/251)
		}
		must(t, os.WriteFile(filepath.Join(dir, "bulk", fmt.Sprintf("b%03d", i)), buf, 0o644))
	}
}

// TestBackupTwoPass: `docker maim backup` of a service that changes its named volume and its
// bind dir without pause is two-pass by default: a hot copy, then, stopped, only the changes
// (a delta per source, with deletions). Verify checks both archives; restoring it gives
// exactly what the service left when it stopped (its own digest), and the same tree as a
// cold `--one-pass` backup of that state.
func TestBackupTwoPass(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p := newProject(t, "twopass", churnCompose)
	must(t, os.MkdirAll(p.Path("bind"), 0o755))
	compose(t, p, "up", "-d", "--wait")
	vol := p.volumeDir(p.Name + "_appdata")
	for _, d := range []string{vol, p.Path("bind")} {
		seedBulk(t, d, 40)
		must(t, os.WriteFile(filepath.Join(d, "churn-on"), nil, 0o644))
	}
	compose(t, p, "restart", "app") // churns from now on, until its next stop

	r := mustOK(t, p.maim("backup", "--format", "json"))
	var res struct {
		ID       string `json:"id"`
		TwoPass  bool   `json:"two_pass"`
		Downtime int64  `json:"downtime_ns"`
	}
	must(t, json.Unmarshal([]byte(r.Stdout), &res))
	if !res.TwoPass || res.Downtime <= 0 {
		t.Fatalf("backup result %s: want two-pass with a downtime", r.Stdout)
	}
	m := p.manifest(res.ID)
	if m.FormatVersion != 2 {
		t.Errorf("format version %d, want 2 (two-pass sources)", m.FormatVersion)
	}
	for _, name := range []string{"appdata", "./bind"} {
		s := m.source(t, name)
		if s.Delta == nil || s.Delta.Files == 0 || s.Delta.Deleted == 0 {
			t.Fatalf("%s: %+v (delta %+v): want a delta holding the churn's changes and deletions", name, s, s.Delta)
		}
		for _, a := range []struct {
			name, sum string
			size      int64
		}{{s.Archive, s.SHA256, s.Size}, {s.Delta.Archive, s.Delta.SHA256, s.Delta.Size}} {
			if sum, n := fileSHA256(t, filepath.Join(p.backupPath(res.ID), a.name)); sum != a.sum || n != a.size {
				t.Errorf("%s: sha256 %s size %d, manifest %s %d", a.name, sum, n, a.sum, a.size)
			}
		}
	}
	mustOK(t, p.maim("verify", res.ID))
	// The churn stopped for good with the backup's stop: the data is quiet now.
	for _, d := range []string{vol, p.Path("bind")} {
		wantChurnRestored(t, "after the backup", d)
	}
	excl := []string{"starts.log", "effective.json", "data.json"}
	quiet := testrig.TreeHash(t, vol, excl...) + testrig.TreeHash(t, p.Path("bind"))
	cold := p.backup("--one-pass", "--full") // whole: a cold backup of that state
	if cm := p.manifest(cold); cm.FormatVersion != 1 || cm.source(t, "appdata").Delta != nil {
		t.Errorf("--one-pass: format %d, appdata %+v: want one archive per source", cm.FormatVersion, cm.source(t, "appdata"))
	}

	for _, id := range []string{res.ID, cold} {
		scramble(t, vol)
		scramble(t, p.Path("bind"))
		mustOK(t, p.maim("restore", id, "--no-safety-backup"))
		for _, d := range []string{vol, p.Path("bind")} {
			wantChurnRestored(t, "restore of "+id, d)
		}
		if got := testrig.TreeHash(t, vol, excl...) + testrig.TreeHash(t, p.Path("bind")); got != quiet {
			t.Errorf("restore of %s: the data differs from the quiet state both backups hold", id)
		}
	}
	p.wantUpChangesNothing()
}

// TestUpgradeTwoPassRollback: an upgrade of a service that changes its data without pause
// runs backup-hot before the stop (listed by --dry-run); the new version migrates the data
// and crashes; the rollback restores the two-pass backup: the data is exactly what the old
// version left when the upgrade stopped it.
func TestUpgradeTwoPassRollback(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	bp := makeBotProject(t, "upgrade-twopass", "BOT_FAIL=crash-late\nBOT_FAIL_ON=2.0.0\n")
	c := strings.Replace(fmt.Sprintf(botUpgradeCompose, bp.repo), "      BOT_FAIL_ON: ${BOT_FAIL_ON:-}\n", "      BOT_FAIL_ON: ${BOT_FAIL_ON:-}\n      BOT_CHURN: /bot/data\n", 1)
	if !strings.Contains(c, "BOT_CHURN") {
		t.Fatal("compose file without BOT_CHURN")
	}
	bp.WriteCompose(c)
	bp.start()
	vol := bp.volumeDir(bp.vol)
	seedBulk(t, vol, 20)
	must(t, os.WriteFile(filepath.Join(vol, "churn-on"), nil, 0o644))
	compose(t, bp.project, "restart", "bot")
	bp.setEnv("BOT_VERSION", "2.0.0")

	dry := mustOK(t, bp.maim(append(upgradeArgs, "--dry-run", "--format", "json")...))
	if !strings.Contains(dry.Stdout, `"name": "backup-hot"`) && !strings.Contains(dry.Stdout, `"name":"backup-hot"`) {
		t.Fatalf("the dry run does not list backup-hot: %s", dry.Stdout)
	}
	r := bp.maim(upgradeArgs...)
	if r.Code != 10 {
		t.Fatalf("want exit 10 (failed and rolled back): %s", r)
	}
	id := regexpFind(t, `upgrade failed and was rolled back to backup (\S+): the project runs as before`, r.Stdout)
	if s := bp.manifest(id).source(t, "botdata"); s.Delta == nil || s.Delta.Files == 0 {
		t.Fatalf("botdata in the upgrade's backup: %+v (delta %+v): want two passes", s, s.Delta)
	}
	bp.wantBot("1.0.0")
	_, dir := bp.data()
	if d := readDataJSON(t, dir); d.Schema != 1 || len(d.Migrations) != 0 {
		t.Errorf("data.json after the rollback: %+v", d)
	}
	wantChurnRestored(t, "after the rollback", vol)
	bp.wantNoJournal()
}

// tmpfsCompose mounts a named volume (on the engine's disk) and a bind dir the test mounts a
// tmpfs on.
const tmpfsCompose = `services:
  app:
    image: {{bot:1.0.0}}
    volumes:
      - appdata:/bot/data
      - ./shm:/bot/shm
volumes:
  appdata: {}
`

// TestBackupTmpfsSourceOnePass: a source on a tmpfs (no writeback: a write through a shared
// mapping moves no ctime, so a delta could miss it) is archived in one pass, stopped, in a
// two-pass backup; the output, the JSON and the manifest say why; the other source stays
// two-pass; the restore is exact.
func TestBackupTmpfsSourceOnePass(t *testing.T) {
	requireEngine(t)
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (CI runs as root)")
	}
	t.Parallel()
	p := newProject(t, "tmpfs1p", tmpfsCompose)
	shm := p.Path("shm")
	must(t, os.MkdirAll(shm, 0o755))
	if err := syscall.Mount("tmpfs", shm, "tmpfs", 0, "size=32m"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(shm, syscall.MNT_DETACH) })
	seedBulk(t, shm, 4)
	must(t, os.WriteFile(filepath.Join(shm, "index"), []byte("kafka index"), 0o644))
	compose(t, p, "up", "-d", "--wait")
	vol := p.volumeDir(p.Name + "_appdata")
	seedBulk(t, vol, 4)

	r := mustOK(t, p.maim("backup", "--format", "json"))
	var res struct {
		ID      string `json:"id"`
		TwoPass bool   `json:"two_pass"`
		Sources []struct {
			Name    string `json:"name"`
			OnePass string `json:"one_pass"`
		} `json:"sources"`
	}
	must(t, json.Unmarshal([]byte(r.Stdout), &res))
	reasons := map[string]string{}
	for _, s := range res.Sources {
		reasons[s.Name] = s.OnePass
	}
	if !res.TwoPass || !strings.Contains(reasons["./shm"], "tmpfs") || reasons["appdata"] != "" {
		t.Fatalf("backup result %s: want two-pass, ./shm one pass because of its tmpfs, appdata two-pass", r.Stdout)
	}
	if !strings.Contains(r.Stderr, "./shm: archived in one pass, stopped") {
		t.Errorf("the output does not say ./shm went one pass:\n%s", r.Stderr)
	}
	m := p.manifest(res.ID)
	if s := m.source(t, "./shm"); s.Delta != nil || !strings.Contains(s.OnePass, "tmpfs") {
		t.Errorf("manifest ./shm: delta %+v, one_pass %q: want one whole archive and why", s.Delta, s.OnePass)
	}
	if s := m.source(t, "appdata"); s.Delta == nil || s.OnePass != "" {
		t.Errorf("manifest appdata: delta %+v, one_pass %q: want two-pass", s.Delta, s.OnePass)
	}
	mustOK(t, p.maim("verify", res.ID))

	quiet := testrig.TreeHash(t, shm) + testrig.TreeHash(t, vol, "starts.log", "effective.json", "data.json")
	must(t, os.WriteFile(filepath.Join(shm, "index"), []byte("changed after the backup"), 0o644))
	must(t, os.Remove(filepath.Join(shm, "bulk", "b001")))
	scramble(t, vol)
	mustOK(t, p.maim("restore", res.ID, "--no-safety-backup"))
	if got := testrig.TreeHash(t, shm) + testrig.TreeHash(t, vol, "starts.log", "effective.json", "data.json"); got != quiet {
		t.Errorf("restore of %s differs from what the backup stopped", res.ID)
	}
}

// startedDuringCompose: app runs when the backup begins; job (run as a one-off, `docker
// compose run -d`, churning appdata) and other (a service, `up -d`) are started while the
// backup holds between its two passes.
const startedDuringCompose = `services:
  app:
    image: {{bot:1.0.0}}
    volumes:
      - appdata:/bot/data
  job:
    image: {{bot:1.0.0}}
    environment:
      BOT_CHURN: /work
    volumes:
      - jobhome:/bot/data
      - appdata:/work
  other:
    image: {{bot:1.0.0}}
    volumes:
      - otherhome:/bot/data
volumes:
  appdata: {}
  jobhome: {}
  otherhome: {}
`

// runningOf counts the project's running containers by service, one-off containers as
// "SERVICE (one-off)".
func runningOf(t testing.TB, p *project) map[string]int {
	t.Helper()
	res, err := p.Client.ContainerList(context.Background(), client.ContainerListOptions{
		Filters: make(client.Filters).Add("label", "com.docker.compose.project="+p.Name),
	})
	must(t, err)
	out := map[string]int{}
	for _, c := range res.Items {
		svc := c.Labels["com.docker.compose.service"]
		if c.Labels["com.docker.compose.oneoff"] == "True" {
			svc += " (one-off)"
		}
		out[svc]++
	}
	return out
}

// startedDuringProject is the rig of the tests of what starts while an operation holds: a
// project of startedDuringCompose with app up and n bulk files (seedBulk) in appdata,
// whose host directory it returns.
func startedDuringProject(t *testing.T, name string, n int) (*project, string) {
	t.Helper()
	p := newProject(t, name, startedDuringCompose)
	compose(t, p, "up", "-d", "--wait", "app")
	vol := p.volumeDir(p.Name + "_appdata")
	seedBulk(t, vol, n)
	return p, vol
}

// heldAt starts `docker maim ARGS` (env added to its environment) held at the failpoint
// point (MAIM_FAILPOINT=point:wait) and returns once it holds there, with the file whose
// removal lets it go on.
func heldAt(t *testing.T, p *project, point string, env []string, args ...string) (*bgRun, string) {
	t.Helper()
	fp := filepath.Join(t.TempDir(), "failpoint")
	run := p.maimStart(append([]string{"MAIM_FAILPOINT=" + point + ":wait", "MAIM_FAILPOINT_FILE=" + fp}, env...), args...)
	waitFailpoint(t, run, fp, 3*time.Minute)
	return run, fp
}

// TestBackupStopsWhatStartedDuringPassOne: what runs is listed again right before the stop.
// While `docker maim backup` holds after pass one (failpoint backup:stopping), a one-off
// container that changes appdata without pause is started (`docker compose run -d job`)
// and a service that did not run (`up -d other`). The backup stops both with app, records
// them (manifest running/one_offs, the result's stopped), starts exactly them again, and
// restoring it gives what the one-off left when it was stopped (its own digest). Before,
// the list was from before pass one: the one-off was never stopped and pass two read it
// live.
func TestBackupStopsWhatStartedDuringPassOne(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p, vol := startedDuringProject(t, "started-during", 8)
	must(t, os.WriteFile(filepath.Join(vol, "churn-on"), nil, 0o644))

	run, fp := heldAt(t, p, "backup:stopping", nil, "backup", "--format", "json")
	compose(t, p, "run", "-d", "job")
	compose(t, p, "up", "-d", "--no-deps", "other")
	run.until(t, 2*time.Minute, "the one-off job to churn", func() bool {
		_, err := os.Stat(filepath.Join(vol, "churn"))
		return err == nil
	})
	must(t, os.Remove(fp))
	r := mustOK(t, run.wait(t, 5*time.Minute))

	var res struct {
		ID             string   `json:"id"`
		TwoPass        bool     `json:"two_pass"`
		Stopped        []string `json:"stopped"`
		StoppedOneOffs []string `json:"stopped_one_offs"`
	}
	must(t, json.Unmarshal([]byte(r.Stdout), &res))
	if !res.TwoPass || fmt.Sprint(res.Stopped) != "[app other]" || fmt.Sprint(res.StoppedOneOffs) != "[job]" {
		t.Errorf("backup result %s: want two-pass, stopped [app other], stopped one-offs [job]", r.Stdout)
	}
	m := p.manifest(res.ID)
	if !m.Stopped || fmt.Sprint(m.Running) != "[app other]" || fmt.Sprint(m.OneOffs) != "[job]" {
		t.Errorf("manifest: stopped %v, running %v, one-offs %v: want true, [app other], [job]", m.Stopped, m.Running, m.OneOffs)
	}
	// Exactly what was stopped runs again; the job churns no more (stopped, it left its digest).
	if got := runningOf(t, p); fmt.Sprint(got) != "map[app:1 job (one-off):1 other:1]" {
		t.Errorf("running after the backup: %v", got)
	}
	wantChurnRestored(t, "after the backup", vol)
	mustOK(t, p.maim("verify", res.ID))

	scramble(t, vol)
	mustOK(t, p.maim("restore", res.ID, "--no-safety-backup"))
	wantChurnRestored(t, "restore of "+res.ID, vol)
}

// TestBackupStartedAfterStopIsNotCold: a service started after the backup's stop
// (failpoint backup:stopped, then `up -d other`) may write while pass two reads: the backup
// fails saying so, keeps nothing, and starts again what it stopped.
func TestBackupStartedAfterStopIsNotCold(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p := newProject(t, "started-after", startedDuringCompose)
	compose(t, p, "up", "-d", "--wait", "app")

	run, fp := heldAt(t, p, "backup:stopped", nil, "backup")
	if got := runningOf(t, p); len(got) != 0 {
		t.Fatalf("running at the stop: %v", got)
	}
	compose(t, p, "up", "-d", "--no-deps", "other")
	must(t, os.Remove(fp))
	r := run.wait(t, 5*time.Minute)
	if r.Code == 0 || !strings.Contains(r.Stderr, "other started while the backup read") {
		t.Fatalf("want the backup refused as not cold: %s", r)
	}
	if ids := p.backups(); len(ids) != 0 {
		t.Errorf("backups kept: %v", ids)
	}
	if got := runningOf(t, p); fmt.Sprint(got) != "map[app:1 other:1]" {
		t.Errorf("running after the failed backup: %v", got)
	}
}

// TestUpgradeStopsWhatStartedDuringPassOne: the upgrade's stop lists what runs again too.
// Held after pass one (failpoint upgrade:backing-up, recorded before the stop), a one-off
// container of the bot is started on its data (`docker compose run -d bot`); the upgrade
// stops it with the bot before pass two, its backup records it (one_offs), and the
// upgrade, which recreates the services only, leaves it stopped.
func TestUpgradeStopsWhatStartedDuringPassOne(t *testing.T) {
	t.Parallel()
	bp := newBotProject(t, "upgrade-started-during", "")
	bp.setEnv("BOT_VERSION", "2.0.0")
	run, fp := heldAt(t, bp.project, "upgrade:backing-up", nil, append(upgradeArgs, "--format", "json")...)
	compose(t, bp.project, "run", "-d", "bot")
	if got := runningOf(t, bp.project); got["bot (one-off)"] != 1 {
		t.Fatalf("running while held: %v", got)
	}
	must(t, os.Remove(fp))
	r := mustOK(t, run.wait(t, 5*time.Minute))
	var res struct {
		BackupID string `json:"backup_id"`
	}
	must(t, json.Unmarshal([]byte(r.Stdout), &res))
	m := bp.manifest(res.BackupID)
	if fmt.Sprint(m.Running) != "[bot]" || fmt.Sprint(m.OneOffs) != "[bot]" {
		t.Errorf("the upgrade's backup records running %v, one-offs %v: want [bot], [bot]", m.Running, m.OneOffs)
	}
	if got := runningOf(t, bp.project); fmt.Sprint(got) != "map[bot:1]" {
		t.Errorf("running after the upgrade: %v (the one-off stays stopped)", got)
	}
	// The stopped one-off is the user's; removed here so that wantBot sees the service's.
	ctx := context.Background()
	res1, err := bp.Client.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).
		Add("label", "com.docker.compose.project="+bp.Name).Add("label", "com.docker.compose.oneoff=True")})
	must(t, err)
	for _, c := range res1.Items {
		_, err := bp.Client.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true})
		must(t, err)
	}
	bp.wantBot("2.0.0")
	bp.wantNoJournal()
}

// TestRestoreStopsWhatStartedMeanwhile: restore lists what runs again right before its stop
// (its first list is from before the archives' hash check). Held once backing-up is
// journaled (failpoint restore:backing-up), `up -d other` starts a service that did not run
// when the restore was planned; the restore stops it with app, its safety backup records
// both as what ran, and both run again afterwards. Before, other was never stopped and the
// safety backup was not cold.
func TestRestoreStopsWhatStartedMeanwhile(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p, vol := startedDuringProject(t, "restore-started", 2)
	var b struct {
		ID string `json:"id"`
	}
	must(t, json.Unmarshal([]byte(mustOK(t, p.maim("backup", "--format", "json")).Stdout), &b))
	want := testrig.TreeHash(t, vol, "starts.log", "effective.json", "data.json")
	wantTree := treediff.Of(t, vol)
	scramble(t, vol)

	run, fp := heldAt(t, p, "restore:backing-up", nil, "restore", b.ID, "--format", "json")
	compose(t, p, "up", "-d", "--no-deps", "other")
	startedAt := func() string { return p.containers()["other"].State.StartedAt }
	before := startedAt()
	must(t, os.Remove(fp))
	r := mustOK(t, run.wait(t, 5*time.Minute))
	var res struct {
		SafetyID string `json:"safety_backup_id"`
	}
	must(t, json.Unmarshal([]byte(r.Stdout), &res))
	if got := runningOf(t, p); fmt.Sprint(got) != "map[app:1 other:1]" {
		t.Errorf("running after the restore: %v, want app and other", got)
	}
	if after := startedAt(); after == before {
		t.Errorf("other was never stopped by the restore (started at %s both times)", after)
	}
	if m := p.manifest(res.SafetyID); fmt.Sprint(m.Running) != "[app other]" {
		t.Errorf("the safety backup %s records %v as what ran, want [app other]", res.SafetyID, m.Running)
	}
	if got := testrig.TreeHash(t, vol, "starts.log", "effective.json", "data.json"); got != want {
		// Which paths differ (the bot's own files among them: they change as it runs).
		t.Errorf("restore of %s differs from the backup (safety backup %s; %s):\n%s", b.ID, res.SafetyID, r.Stdout,
			strings.Join(treediff.Diff(wantTree, treediff.Of(t, vol), treediff.Options{}), "\n"))
	}
}
