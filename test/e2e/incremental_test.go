package e2e

import (
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/testrig/treediff"
)

// incCompose: the stand-in bot with a named volume (archived through the helper
// container) and a bind-mounted directory (on this host).
const incCompose = `services:
  bot:
    image: {{bot:1.0.0}}
    volumes: [data:/srv/data, ./files:/files]
volumes:
  data: {}
`

// incSource is what the incremental tests read of a manifest's source.
type incSource struct {
	Name    string `json:"name"`
	Archive string `json:"archive"`
	Size    int64  `json:"archive_size"`
	Ref     string `json:"ref"`
	Full    string `json:"full"`
	Base    *struct {
		ID      string `json:"id"`
		Depth   int    `json:"depth"`
		Deleted int64  `json:"deleted"`
	} `json:"base"`
}

func (p *project) incSources(id string) map[string]incSource {
	p.t.Helper()
	b, err := os.ReadFile(filepath.Join(p.backupPath(id), "manifest.json"))
	must(p.t, err)
	var m struct {
		Sources []incSource `json:"sources"`
	}
	must(p.t, json.Unmarshal(b, &m))
	out := map[string]incSource{}
	for _, s := range m.Sources {
		out[s.Name] = s
	}
	return out
}

// incState is the two directory sources as a backup should hold them.
type incState struct{ data, files treediff.Tree }

// TestIncrementalBackups on the real engine: a full backup, then two incremental ones
// (the volume through the helper container, the bind directory on this host; files
// changed, deleted, renamed and a directory removed between them), each naming its base;
// restoring each gives its data byte-exact; verify checks the chain and fails when a base
// is damaged; prune --keep 1 keeps the bases the newest needs; --full starts afresh;
// policy changed reuses an unchanged source's files.
func TestIncrementalBackups(t *testing.T) {
	t.Parallel()
	p := newProject(t, "incremental", incCompose)
	writeTree(t, p.Path("files"), map[string]string{"a.txt": "a1\n", "sub/b.txt": strings.Repeat("b", 10000), "sub/c.txt": "c\n", "old/x.txt": "x\n"})
	compose(t, p, "up", "-d", "--wait")
	vol := p.volumeDir(p.Name + "_data")
	big := make([]byte, 1<<20) // incompressible: the full archive is about this size
	_, err := rand.Read(big)
	must(t, err)
	writeTree(t, vol, map[string]string{"big.bin": string(big), "keep.txt": "keep\n", "gone.txt": "gone\n"})
	// Files written within the ctime margin of a backup's start count as changed: let
	// the file system clock move past it so the increments below hold only the changes.
	time.Sleep(3500 * time.Millisecond)
	read := func() incState {
		compose(t, p, "stop")
		defer compose(t, p, "start")
		return incState{treediff.Of(t, vol), treediff.Of(t, p.Path("files"))}
	}
	states := map[string]incState{}
	b1 := p.backup()
	states[b1] = read()

	writeTree(t, p.Path("files"), map[string]string{"a.txt": "a2 changed\n", "new/d.txt": "d\n"})
	must(t, os.Remove(p.Path("files/sub/c.txt")))
	must(t, os.Rename(p.Path("files/sub/b.txt"), p.Path("files/b-moved.txt")))
	writeTree(t, vol, map[string]string{"new.txt": "new\n"})
	must(t, os.Remove(filepath.Join(vol, "gone.txt")))
	b2 := p.backup()
	states[b2] = read()

	must(t, os.RemoveAll(p.Path("files/old")))
	must(t, os.Chmod(p.Path("files/a.txt"), 0o600))
	must(t, os.Rename(filepath.Join(vol, "keep.txt"), filepath.Join(vol, "kept.txt")))
	b3 := p.backup()
	states[b3] = read()

	s1, s2, s3 := p.incSources(b1), p.incSources(b2), p.incSources(b3)
	for _, name := range []string{"data", "./files"} {
		if s1[name].Base != nil {
			t.Errorf("%s of the first backup has a base: %+v", name, s1[name].Base)
		}
		if b := s2[name].Base; b == nil || b.ID != b1 || b.Depth != 1 || b.Deleted == 0 {
			t.Errorf("%s of backup 2: base %+v, want %s at depth 1 with deletions", name, b, b1)
		}
		if b := s3[name].Base; b == nil || b.ID != b2 || b.Depth != 2 {
			t.Errorf("%s of backup 3: base %+v, want %s at depth 2", name, b, b2)
		}
	}
	if s2["data"].Size*10 > s1["data"].Size {
		t.Errorf("the increment of data holds %d bytes, the full archive %d: the unchanged big file was archived again", s2["data"].Size, s1["data"].Size)
	}
	mustOK(t, p.maim("verify", b3))

	for _, id := range []string{b1, b3, b2} {
		writeTree(t, p.Path("files"), map[string]string{"intruder.txt": "no\n"})
		mustOK(t, p.maim("restore", id, "--no-safety-backup", "--stable-period", "0s", "--timeout", "2m"))
		got := read()
		treediff.AssertSame(t, states[id].data, got.data, treediff.Options{})
		treediff.AssertSame(t, states[id].files, got.files, treediff.Options{})
	}

	// prune --keep 1: the newest stays, and the two backups it builds on with it.
	// The restores above rewrote files: past the ctime margin again, or backup 5 rightly
	// counts them as changed since backup 4 (it started within the margin of their writes).
	time.Sleep(3500 * time.Millisecond)
	b4 := p.backup("--full")
	s4 := p.incSources(b4)
	if s4["data"].Base != nil || s4["data"].Full != "--full" {
		t.Errorf("--full: data %+v", s4["data"])
	}
	b5 := p.backup("--source-policy", "./files=changed")
	s5 := p.incSources(b5)
	if s5["./files"].Ref != b4 || s5["./files"].Archive != s4["./files"].Archive {
		t.Errorf("policy changed, nothing changed: ./files %+v, want backup %s's archive", s5["./files"], b4)
	}
	if b := s5["data"].Base; b == nil || b.ID != b4 {
		t.Errorf("data of backup 5: base %+v, want %s", b, b4)
	}
	states[b5] = read()
	r := mustOK(t, p.maim("prune", "--keep", "1", "--format", "json"))
	var pr struct {
		Removed []struct{ ID string }       `json:"removed"`
		Kept    []struct{ ID, Rule string } `json:"kept"`
	}
	must(t, json.Unmarshal([]byte(r.Stdout), &pr))
	kept := map[string]string{}
	for _, k := range pr.Kept {
		kept[k.ID] = k.Rule
	}
	if kept[b5] != "newest" || kept[b4] != "base" || len(pr.Removed) != 3 {
		t.Errorf("prune --keep 1: kept %v, removed %+v; want %s newest, %s its base, the 3 others removed", kept, pr.Removed, b5, b4)
	}
	var list struct {
		Backups []struct {
			ID         string   `json:"id"`
			Size       int64    `json:"size"`
			Referenced int64    `json:"referenced_size"`
			Bases      []string `json:"bases"`
		} `json:"backups"`
	}
	must(t, json.Unmarshal([]byte(mustOK(t, p.maim("backups", "--format", "json")).Stdout), &list))
	for _, row := range list.Backups {
		if row.ID == b5 && (row.Size >= s4["data"].Size || row.Referenced < s4["data"].Size || len(row.Bases) != 1 || row.Bases[0] != b4) {
			t.Errorf("backups: %s holds %d bytes, references %d in %v; want less than, at least %d in [%s]", b5, row.Size, row.Referenced, row.Bases, s4["data"].Size, b4)
		}
	}
	writeTree(t, p.Path("files"), map[string]string{"intruder.txt": "no\n"})
	mustOK(t, p.maim("restore", b5, "--no-safety-backup", "--stable-period", "0s", "--timeout", "2m"))
	got := read()
	treediff.AssertSame(t, states[b5].data, got.data, treediff.Options{})
	treediff.AssertSame(t, states[b5].files, got.files, treediff.Options{})

	// A damaged base fails the verify of the backup that builds on it.
	base := filepath.Join(p.backupPath(b4), s4["data"].Archive)
	var raw []byte
	raw, err = os.ReadFile(base)
	must(t, err)
	raw[len(raw)/2] ^= 0xff
	must(t, os.WriteFile(base, raw, 0o600))
	wantFail(t, p.maim("verify", b5), 3, b4)
}

// TestRemoteIncrementalFetchesBases: with the backup dir lost, restoring an incremental
// backup from a remote fetches the backups it builds on too, and the data comes back
// byte-exact.
func TestRemoteIncrementalFetchesBases(t *testing.T) {
	t.Parallel()
	rem := dirRemote(t)
	p := newProject(t, "remote-incremental", incCompose)
	writeTree(t, p.Path("files"), map[string]string{"a.txt": "a1\n", "sub/b.txt": "b\n"})
	compose(t, p, "up", "-d", "--wait")
	compose(t, p, "stop")
	b1 := backupID(t, mustOK(t, p.maimR(rem, "backup")))
	writeTree(t, p.Path("files"), map[string]string{"a.txt": "a2\n", "c.txt": "c\n"})
	must(t, os.Remove(p.Path("files/sub/b.txt")))
	want := treediff.Of(t, p.Path("files"))
	b2 := backupID(t, mustOK(t, p.maimR(rem, "backup")))
	if b := p.incSources(b2)["./files"].Base; b == nil || b.ID != b1 {
		t.Fatalf("backup %s of ./files: base %+v, want %s", b2, b, b1)
	}
	must(t, os.RemoveAll(p.BackupDir))
	writeTree(t, p.Path("files"), map[string]string{"intruder.txt": "no\n"})
	rr := mustOK(t, p.maimR(rem, "restore", b2, "--no-safety-backup", "--stable-period", "0s", "--timeout", "2m"))
	if !strings.Contains(rr.Stdout+rr.Stderr, "backup "+b1) {
		t.Errorf("the restore does not say it fetched the base %s: %s", b1, rr)
	}
	compose(t, p, "stop")
	treediff.AssertSame(t, want, treediff.Of(t, p.Path("files")), treediff.Options{})
}

// TestRemoteCopyTakesItsBasesAlong: the first backup is taken without --remote; the second,
// an increment over it, is copied with --remote, and its base goes along (a remote copy of
// an increment is no use without it). With the backup dir lost, the restore from the
// remote gives the second backup's tree exactly.
func TestRemoteCopyTakesItsBasesAlong(t *testing.T) {
	t.Parallel()
	rem := dirRemote(t)
	p := newProject(t, "remote-bases", incCompose)
	writeTree(t, p.Path("files"), map[string]string{"a.txt": "a1\n", "sub/b.txt": "b\n"})
	compose(t, p, "up", "-d", "--wait")
	compose(t, p, "stop")
	b1 := backupID(t, mustOK(t, p.maim("backup")))
	writeTree(t, p.Path("files"), map[string]string{"a.txt": "a2\n", "c.txt": "c\n"})
	want := treediff.Of(t, p.Path("files"))
	b2 := backupID(t, mustOK(t, p.maimR(rem, "backup")))
	if b := p.incSources(b2)["./files"].Base; b == nil || b.ID != b1 {
		t.Fatalf("backup %s of ./files: base %+v, want %s", b2, b, b1)
	}
	if row := p.remoteRows(rem)[b1]; strings.Join(row.Locations, "+") != "local+remote" {
		t.Errorf("the base %s lives in %v after its increment's copy, want local and remote", b1, row.Locations)
	}
	must(t, os.RemoveAll(p.BackupDir))
	writeTree(t, p.Path("files"), map[string]string{"intruder.txt": "no\n"})
	mustOK(t, p.maimR(rem, "restore", b2, "--no-safety-backup", "--stable-period", "0s", "--timeout", "2m"))
	compose(t, p, "stop")
	treediff.AssertSame(t, want, treediff.Of(t, p.Path("files")), treediff.Options{})
}
