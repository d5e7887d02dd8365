package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/testrig/treediff"
	"github.com/minio/minio-go/v7"
)

// rcCase is a project of testdata/corpus taken through the paths TestCorpus does not
// take: a remote copy sealed with age, incremental chains and the differential restore.
type rcCase struct {
	corpusCase
	// binds are the bind dirs the project keeps its data in, relative to the project dir.
	binds []string
	// bulk is the bind dir that gets 100 files of 256 KiB: a 1% change is one of them.
	bulk string
}

// rcCases: mastodon (an init job with service_completed_successfully and restart "no", a
// service under an inactive profile, a named volume and nested binds) and dockge (the
// docker.sock mount, a stacks dir outside the project bound at the same path).
func rcCases(t *testing.T) []rcCase {
	byDir := map[string]corpusCase{}
	for _, c := range corpus {
		byDir[c.dir] = c
	}
	for _, d := range []string{"mastodon", "dockge"} {
		if _, ok := byDir[d]; !ok {
			t.Fatalf("test setup: corpus case %s is gone", d)
		}
	}
	return []rcCase{
		{corpusCase: byDir["mastodon"], binds: []string{"data", "redis", "public/system"}, bulk: "public/system"},
		{corpusCase: byDir["dockge"], binds: []string{"data"}, bulk: "data"},
	}
}

// rcSetup brings a corpus case up as TestCorpus does: the project copied, BOT_REPO and the
// case's own lines in .env, user files in its seed dir and volumes, 100 bulk files; then
// waits past the ctime margin, so what was seeded is older than any backup that follows.
func rcSetup(t *testing.T, c rcCase, name string) *project {
	t.Helper()
	p := newProject(t, name, "")
	copyCorpus(t, filepath.Join("testdata", "corpus", c.dir), p.Dir)
	env := "BOT_REPO=" + rcRepo(p) + "\n"
	if c.setup != nil {
		env += c.setup(p)
	}
	p.WriteFile(".env", p.fileBytes(".env")+env)
	must(t, os.MkdirAll(p.Path(c.seed), 0o755))
	seedData(t, p.Path(c.seed))
	seedBulk(t, p.Path(c.bulk), 100)
	compose(t, p, "up", "-d", "--wait")
	for _, v := range c.volumes {
		p.seedVolume(p.Name + "_" + v)
	}
	time.Sleep(3500 * time.Millisecond)
	return p
}

func rcRepo(p *project) string { return strings.TrimSuffix(p.Bot("1.0.0"), ":1.0.0") }

// rcDirs are the case's data dirs on this host, by source: its binds, the dirs it binds
// from outside the project, and its volumes' data dirs.
func (p *project) rcDirs(c rcCase) map[string]string {
	p.t.Helper()
	out := map[string]string{}
	for _, b := range c.binds {
		out["./"+b] = p.Path(b)
	}
	if c.outside != nil {
		for _, d := range c.outside(p) {
			out[d] = d
		}
	}
	for _, v := range c.volumes {
		out[v] = p.volumeDir(p.Name + "_" + v)
	}
	return out
}

// rcTrees describes every data dir of the case (treediff: type, mode, owner, size,
// content, link target, mtime, hard links, xattrs) and the project's files byte for byte.
// What the bot writes on every start is left out: starts.log and effective.json, and the
// mtime of the dir holding them (effective.json is replaced by a rename).
func (p *project) rcTrees(c rcCase) map[string]treediff.Tree {
	p.t.Helper()
	out := map[string]treediff.Tree{}
	for name, dir := range p.rcDirs(c) {
		tr := treediff.Of(p.t, dir)
		for rel := range tr {
			if base := filepath.Base(rel); base == "starts.log" || base == "effective.json" {
				delete(tr, rel)
				parent := filepath.ToSlash(filepath.Dir(rel))
				n := tr[parent]
				n.Mtime = 0
				tr[parent] = n
			}
		}
		out[name] = tr
	}
	files := treediff.Tree{}
	for f, b := range p.projectFiles(c.corpusCase) {
		files[f] = treediff.Node{Type: "file", Size: int64(len(b)), SHA: b}
	}
	out["project files"] = files
	return out
}

// rcSame fails the test when the data differs from want anywhere.
func (p *project) rcSame(what string, c rcCase, want map[string]treediff.Tree) {
	p.t.Helper()
	got := p.rcTrees(c)
	for name, w := range want {
		if d := treediff.Diff(w, got[name], treediff.Options{}); len(d) > 0 {
			if len(d) > 20 {
				d = append(d[:20], fmt.Sprintf("... and %d more", len(d)-20))
			}
			p.t.Errorf("%s: %s differs:\n%s", what, name, strings.Join(d, "\n"))
		}
	}
}

// rcProfiled: a service under a profile nobody enabled has no container (it was neither
// started nor stopped), no source of the backup is its, and the bind dir only it mounts
// was never made.
func (p *project) rcProfiled(c rcCase, m *manifest) {
	p.t.Helper()
	for _, svc := range c.profiled {
		if ct, ok := p.containers()[svc]; ok {
			p.t.Errorf("service %s (inactive profile) has a container: %+v", svc, ct.State)
		}
		for _, s := range m.Sources {
			for _, mt := range s.Mounts {
				if mt.Service == svc {
					p.t.Errorf("backup %s archived %s for %s, a service under an inactive profile", m.ID, s.Name, svc)
				}
			}
		}
	}
	if slices.Contains(c.profiled, "es") {
		if _, err := os.Stat(p.Path("elasticsearch")); err == nil {
			p.t.Errorf("./elasticsearch, which only the inactive es mounts, exists")
		}
	}
}

// rcAfter is what holds after each command that put data back: a plain
// `docker compose up -d` recreates nothing, every service runs 1.0.0 (the one-shot ran to
// exit 0), the inactive profile's service has no container, host paths are untouched, and
// the data is want's.
func (p *project) rcAfter(what string, c rcCase, want map[string]treediff.Tree, hostBefore string) {
	p.t.Helper()
	p.wantUpChangesNothing()
	p.wantVersions(c.corpusCase)
	wantHostPaths(p.t, what, c.hostPaths, hostBefore)
	p.rcSame(what, c, want)
}

// TestRealComposeRemoteEncryptedRollback: a corpus project backed up on this host, then
// upgraded with --remote DIR and --encrypt-to an age recipient (the upgrade's backup an
// increment over the first, both copied sealed, the local copies plain); the local backup
// dir then deleted; `rollback --identity KEY` fetches the backup from the remote and puts
// every bind, outside dir and volume back byte for byte, the project's files too; after
// it `docker compose up -d` recreates nothing.
func TestRealComposeRemoteEncryptedRollback(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	for _, c := range rcCases(t) {
		remotes := map[string]func(*testing.T) remoteRig{"dir": dirRemote}
		if c.dir == "mastodon" {
			remotes["s3"] = s3Remote // SeaweedFS; skipped without it unless MAIM_REQUIRE_S3=1
		}
		for kind, mk := range remotes {
			t.Run(c.dir+"/"+kind, func(t *testing.T) { rcRemoteRollback(t, c, mk(t)) })
		}
	}
}

// rcRemoteRollback is TestRealComposeRemoteEncryptedRollback on one case and remote.
func rcRemoteRollback(t *testing.T, c rcCase, rem remoteRig) {
	p := rcSetup(t, c, "rc-remote-"+c.dir)
	keyFile, rcpt := ageKeyFile(t)
	hostBefore := hostPathState(t, c.hostPaths)
	base := p.backup() // a nightly backup, on this host only
	p.wantUpChangesNothing()
	want := p.rcTrees(c)

	p.Bot("2.0.0")
	p.applyEdit(c.edit)
	r := mustOK(t, p.maimR(rem, append(append([]string{}, upgradeArgs...), "--encrypt-to", rcpt)...))
	id := upgraded(t, r, p.Name, "", "")
	if !strings.Contains(r.Stdout, "backup "+id+" copied to ") || !strings.Contains(r.Stdout, "sealed with age") || !rem.has(p.Name, id) {
		t.Fatalf("the upgrade's backup was not copied sealed to %s: %s", rem.url, r)
	}
	p.wantVersions(c.corpusCase, c.moved...)
	p.rcProfiled(c, p.manifest(id))
	// The upgrade's backup is an increment over the nightly one, which went to the
	// remote with it (sealed too).
	for _, src := range p.manifest(id).Sources {
		if _, ours := p.rcDirs(c)[src.Name]; ours && (src.Base == nil || src.Base.ID != base) {
			t.Errorf("source %s of the upgrade's backup: base %+v, want an increment over %s", src.Name, src.Base, base)
		}
	}
	if !rem.has(p.Name, base) {
		t.Errorf("the base %s of the upgrade's backup is not on the remote", base)
	}
	for _, bid := range []string{base, id} {
		for _, src := range p.manifest(bid).Sources {
			if src.Archive != "" && src.Ref == "" && !rcSealed(t, rem, p.Name, bid, src.Archive) {
				t.Errorf("the remote copy of %s's %s (%s) is not sealed", bid, src.Name, src.Archive)
			}
		}
	}

	must(t, os.RemoveAll(p.BackupDir))
	mustOK(t, p.maimR(rem, "verify", id))                        // the sealed chain, on the remote: its ciphertexts' hashes
	mustOK(t, p.maimR(rem, "verify", id, "--identity", keyFile)) // and read whole, decrypted
	// Without the identity: refused with 14 (the sealed copy may be fetched first),
	// nothing rolled back.
	refused := p.maimR(rem, append(append([]string{}, rollbackArgs...), id)...)
	if refused.Code != exitIdentity {
		t.Fatalf("rollback of the sealed remote copy without an identity: want exit %d: %s", exitIdentity, refused)
	}
	p.wantVersions(c.corpusCase, c.moved...)
	rr := mustOK(t, p.maimR(rem, append(append([]string{}, rollbackArgs...), "--identity", keyFile)...))
	if fetched := "fetching it from " + rem.url; !strings.Contains(refused.Stdout+refused.Stderr+rr.Stdout+rr.Stderr, fetched) || !strings.Contains(rr.Stdout, "rolled back to backup "+id) {
		t.Errorf("rollback did not fetch %s from the remote and use it:\n%s\n%s", id, refused, rr)
	}
	if !strings.Contains(refused.Stderr+rr.Stderr, "backup "+base) {
		t.Errorf("rollback did not fetch the base %s:\n%s\n%s", base, refused, rr)
	}
	p.rcAfter("after the rollback from the remote", c, want, hostBefore)
	p.rcProfiled(c, p.manifest(id))
}

var rcDiffLine = regexp.MustCompile(`(?m)^(?:.*\s)?(\S+): differential restore: (\d+) of (\d+) files rewritten`)

// rcDiffs are the sources a command's output says it restored differentially, with how
// many files it rewrote of how many.
func rcDiffs(r Result) map[string][2]int {
	out := map[string][2]int{}
	for _, m := range rcDiffLine.FindAllStringSubmatch(r.Stdout+r.Stderr, -1) {
		a, _ := strconv.Atoi(m[2])
		b, _ := strconv.Atoi(m[3])
		out[m[1]] = [2]int{a, b}
	}
	return out
}

// TestRealComposeIncrementalDifferential: two backups in a row of a corpus project (the
// second an increment over the first, files changed between them), a restore of the second
// after damage (the chain applied) gives its data byte for byte; then an upgrade, 1% of
// the bulk changed by hand, and a rollback with the host path off (the volumes and binds
// restored through the helper container) rewrites only what differs (the untouched bulk
// keeps its inode and ctime) and gives the upgrade's backup byte for byte. After each,
// `docker compose up -d` recreates nothing.
func TestRealComposeIncrementalDifferential(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	for _, c := range rcCases(t) {
		t.Run(c.dir, func(t *testing.T) {
			p := rcSetup(t, c, "rc-inc-"+c.dir)
			hostBefore := hostPathState(t, c.hostPaths)
			b1 := p.backup()
			for _, dir := range p.rcDirs(c) {
				writeTree(t, dir, map[string]string{"between/new.txt": "written between the backups\n"})
			}
			must(t, os.Remove(filepath.Join(p.Path(c.bulk), "bulk", "b007")))
			b2 := p.backup()
			m2 := p.manifest(b2)
			for _, s := range m2.Sources {
				if _, ours := p.rcDirs(c)[s.Name]; ours && (s.Base == nil || s.Base.ID != b1) {
					t.Errorf("source %s of the second backup: base %+v, want an increment over %s", s.Name, s.Base, b1)
				}
			}
			p.rcProfiled(c, m2)
			p.wantUpChangesNothing()
			want := p.rcTrees(c)

			for _, dir := range p.rcDirs(c) {
				writeTree(t, dir, map[string]string{"intruder/new.txt": "not in the backup\n", "between/extra.txt": "no\n"})
			}
			must(t, os.Remove(filepath.Join(p.Path(c.bulk), "bulk", "b010")))
			mustOK(t, p.maim("restore", b2, "--stable-period", "3s", "--timeout", "2m"))
			p.rcAfter("after the restore of the increment", c, want, hostBefore)

			p.rcDifferentialRollback(c, hostBefore)
		})
	}
}

// rcDifferentialRollback: the upgrade by the case's edit, 1% of the bulk changed, then
// `rollback` with MAIM_NO_HOST_PATH=1.
func (p *project) rcDifferentialRollback(c rcCase, hostBefore string) {
	t := p.t
	time.Sleep(3100 * time.Millisecond) // what the restore rewrote, older than the upgrade's backup
	p.wantUpChangesNothing()
	want := p.rcTrees(c)
	p.Bot("2.0.0")
	p.applyEdit(c.edit)
	id := upgraded(t, mustOK(t, p.maim(upgradeArgs...)), p.Name, "", "")
	p.wantVersions(c.corpusCase, c.moved...)
	bulk := filepath.Join(p.Path(c.bulk), "bulk")
	untouched := filepath.Join(bulk, "b050")
	before := inodeCtime(t, untouched)
	must(t, os.WriteFile(filepath.Join(bulk, "b003"), []byte(strings.Repeat("changed by hand ", 1<<12)), 0o644))

	env := []string{"COMPOSE_PROJECT_NAME=" + p.Name, "MAIM_NO_HOST_PATH=1"}
	r := mustOK(t, maimEnv(t, p.Dir, env, rollbackArgs...))
	if !strings.Contains(r.Stdout, "rolled back to backup "+id) {
		t.Errorf("rollback did not use the upgrade's backup %s: %s", id, r)
	}
	diffs := rcDiffs(r)
	paths := regexp.MustCompile(`(?m)data path: .*$`).FindAllString(r.Stderr, -1)
	t.Logf("the rollback restored differentially %v; %q", diffs, paths)
	if len(paths) == 0 || slices.ContainsFunc(paths, func(s string) bool { return !strings.Contains(s, "helper container") }) {
		t.Errorf("the rollback with MAIM_NO_HOST_PATH=1 did not move the data through the helper container: %q", paths)
	}
	src := "./" + c.bulk
	if d, ok := diffs[src]; !ok || d[0] == 0 || d[0]*10 > d[1] {
		t.Errorf("%s (1%% changed) was not restored differentially, rewriting a few files: %v\n%s", src, diffs, r)
	}
	for _, v := range c.volumes {
		if _, ok := diffs[v]; !ok {
			t.Errorf("volume %s was not restored differentially through the helper: %v\n%s", v, diffs, r)
		}
	}
	if got := inodeCtime(t, untouched); got != before {
		t.Errorf("%s, which nothing touched, was rewritten by the differential rollback", untouched)
	}
	p.rcAfter("after the differential rollback", c, want, hostBefore)
}

// TestRealComposeRemoteFetchDifferential: two backups in a row with --remote DIR (plain),
// the backup dir lost, 1% of the bulk changed, then `restore` of the second with the host
// path off: the chain is fetched from the remote, and the restore into the very dirs the
// backups read is differential, through the helper container, rewriting a few files only;
// the data comes back byte for byte and `docker compose up -d` recreates nothing.
func TestRealComposeRemoteFetchDifferential(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	for _, c := range rcCases(t) {
		t.Run(c.dir, func(t *testing.T) {
			p := rcSetup(t, c, "rc-fetchdiff-"+c.dir)
			rem := dirRemote(t)
			hostBefore := hostPathState(t, c.hostPaths)
			b1 := backupID(t, mustOK(t, p.maimR(rem, "backup")))
			for _, dir := range p.rcDirs(c) {
				writeTree(t, dir, map[string]string{"between/new.txt": "written between the backups\n"})
			}
			b2 := backupID(t, mustOK(t, p.maimR(rem, "backup")))
			p.rcProfiled(c, p.manifest(b2))
			p.wantUpChangesNothing()
			want := p.rcTrees(c)
			time.Sleep(3100 * time.Millisecond) // what the second backup's start rewrote, past its margin

			must(t, os.RemoveAll(p.BackupDir))
			bulk := filepath.Join(p.Path(c.bulk), "bulk")
			untouched := filepath.Join(bulk, "b050")
			before := inodeCtime(t, untouched)
			must(t, os.WriteFile(filepath.Join(bulk, "b003"), []byte(strings.Repeat("changed by hand ", 1<<12)), 0o644))

			env := append([]string{"COMPOSE_PROJECT_NAME=" + p.Name, "MAIM_NO_HOST_PATH=1"}, rem.env...)
			r := mustOK(t, maimEnv(t, p.Dir, env, "restore", b2, "--stable-period", "3s", "--timeout", "2m", "--remote", rem.url))
			for _, id := range []string{b1, b2} {
				if !strings.Contains(r.Stderr, "backup "+id+": not in the local backup dir") {
					t.Errorf("the restore did not fetch %s from the remote: %s", id, r)
				}
			}
			diffs := rcDiffs(r)
			t.Logf("the restore from the fetched chain restored differentially %v", diffs)
			if d, ok := diffs["./"+c.bulk]; !ok || d[0] == 0 || d[0]*10 > d[1] {
				t.Errorf("./%s (1%% changed) was not restored differentially from the fetched chain: %v\n%s", c.bulk, diffs, r)
			}
			if got := inodeCtime(t, untouched); got != before {
				t.Errorf("%s, which nothing touched, was rewritten", untouched)
			}
			p.rcAfter("after the restore from the fetched chain", c, want, hostBefore)
		})
	}
}

// rcSealed tells whether the remote copy of file name of backup id is age ciphertext.
func rcSealed(t *testing.T, rem remoteRig, project, id, name string) bool {
	t.Helper()
	var head []byte
	if rem.client == nil {
		f, err := os.Open(filepath.Join(rem.url, project, id, name))
		must(t, err)
		defer f.Close()
		head = make([]byte, 22)
		_, err = io.ReadFull(f, head)
		must(t, err)
	} else {
		o, _, _, err := rem.client(t).GetObject(context.Background(), rem.bucket, "maim/"+project+"/"+id+"/"+name, minio.GetObjectOptions{})
		must(t, err)
		defer o.Close()
		head = make([]byte, 22)
		_, err = io.ReadFull(o, head)
		must(t, err)
	}
	return string(head) == "age-encryption.org/v1\n"
}
