package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/docker-maim/docker-maim/internal/testrig"
	"github.com/docker-maim/docker-maim/internal/testrig/treediff"
	"github.com/minio/minio-go/v7"
)

// remoteRig is where a test's remote copies go: a directory (a NAS or USB mount) or a
// bucket of an S3-compatible server on loopback (SeaweedFS, internal/testrig/s3.go).
type remoteRig struct {
	url string
	env []string // the AWS variables of an S3 remote
	has func(project, id string) bool
	// hasFile tells whether the remote copy of backup id holds the file name.
	hasFile func(project, id, name string) bool
	// written is when a file of the remote copy was written (an S3 server: to the second).
	written func(project, id, name string) time.Time
	// bucket and client are an S3 remote's (nil for a directory).
	bucket string
	client func(t testing.TB) *minio.Core
}

// dirRemote is a directory remote.
func dirRemote(t *testing.T) remoteRig {
	dir := filepath.Join(t.TempDir(), "nas")
	manifest := func(project, id string) string { return filepath.Join(dir, project, id, "manifest.json") }
	return remoteRig{url: dir, hasFile: func(project, id, name string) bool {
		_, err := os.Stat(filepath.Join(dir, project, id, name))
		return err == nil
	}, has: func(project, id string) bool {
		_, err := os.Stat(manifest(project, id))
		return err == nil
	}, written: func(project, id, name string) time.Time {
		fi, err := os.Stat(filepath.Join(dir, project, id, name))
		must(t, err)
		return fi.ModTime()
	}}
}

// s3Remote is a prefix of a bucket on a SeaweedFS started for the test.
func s3Remote(t *testing.T) remoteRig {
	s := testrig.SeaweedFS(t)
	c := s.Client(t)
	stat := func(project, id string) (minio.ObjectInfo, error) {
		return c.StatObject(context.Background(), s.Bucket, "maim/"+project+"/"+id+"/manifest.json", minio.StatObjectOptions{})
	}
	return remoteRig{url: s.URL("maim"), env: s3Env(s.Endpoint, s), bucket: s.Bucket, client: s.Client, hasFile: func(project, id, name string) bool {
		_, err := c.StatObject(context.Background(), s.Bucket, "maim/"+project+"/"+id+"/"+name, minio.StatObjectOptions{})
		return err == nil
	}, has: func(project, id string) bool {
		_, err := stat(project, id)
		return err == nil
	}, written: func(project, id, name string) time.Time {
		o, err := c.StatObject(context.Background(), s.Bucket, "maim/"+project+"/"+id+"/"+name, minio.StatObjectOptions{})
		must(t, err)
		return o.LastModified
	}}
}

// s3Env points a maim run at endpoint with s's credentials (and none of the user's files).
func s3Env(endpoint string, s *testrig.S3Server) []string {
	return []string{"AWS_ENDPOINT_URL=" + endpoint, "AWS_REGION=" + s.Region, "AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey, "AWS_PROFILE=", "AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent"}
}

// eachRemote runs fn against a directory remote and against SeaweedFS.
func eachRemote(t *testing.T, fn func(t *testing.T, rr remoteRig)) {
	t.Run("dir", func(t *testing.T) { t.Parallel(); fn(t, dirRemote(t)) })
	t.Run("s3", func(t *testing.T) { t.Parallel(); fn(t, s3Remote(t)) })
}

// maimR runs maim with --remote on rr (and its environment).
func (p *project) maimR(rr remoteRig, args ...string) Result {
	p.t.Helper()
	return maimEnv(p.t, p.Dir, append([]string{"COMPOSE_PROJECT_NAME=" + p.Name}, rr.env...), append(args, "--remote", rr.url)...)
}

// remoteRow is a backups row with where it lives.
type remoteRow struct {
	ID        string   `json:"id"`
	Reason    string   `json:"reason"`
	Status    string   `json:"status"`
	Locations []string `json:"locations"`
}

// remoteRows is `backups --format json --remote`.
func (p *project) remoteRows(rr remoteRig) map[string]remoteRow {
	p.t.Helper()
	r := mustOK(p.t, p.maimR(rr, "backups", "--format", "json"))
	var doc struct {
		Backups []remoteRow `json:"backups"`
	}
	must(p.t, json.Unmarshal([]byte(r.Stdout), &doc))
	out := map[string]remoteRow{}
	for _, row := range doc.Backups {
		out[row.ID] = row
	}
	return out
}

// TestRemoteRestoreAfterTheBackupDirIsLost is issue 20's end to end for restore: a project
// backed up with --remote (a directory, and SeaweedFS), its backup dir deleted, then
// restored from the remote byte for byte; its safety backup goes to the remote too.
func TestRemoteRestoreAfterTheBackupDirIsLost(t *testing.T) {
	t.Parallel()
	eachRemote(t, func(t *testing.T, rem remoteRig) {
		fp := newFullProject(t, "remote-restore")
		// Stopped, so that nothing writes between the backup and the comparison (the bot
		// appends to starts.log whenever it starts).
		compose(t, fp.project, "stop")
		want := treediff.Of(t, fp.vol)
		r := mustOK(t, fp.maimR(rem, "backup"))
		id := backupID(t, r)
		if !strings.Contains(r.Stdout, "backup "+id+" copied to ") || !rem.has(fp.Name, id) {
			t.Fatalf("backup was not copied to %s: %s", rem.url, r)
		}
		if row := fp.remoteRows(rem)[id]; strings.Join(row.Locations, "+") != "local+remote" {
			t.Errorf("backups --remote: %s lives in %v, want local and remote", id, row.Locations)
		}

		// The host's backups are lost; the data is damaged.
		must(t, os.RemoveAll(fp.BackupDir))
		damage(t, fp.vol)
		if row := fp.remoteRows(rem)[id]; strings.Join(row.Locations, "+") != "remote" {
			t.Errorf("backups --remote after the loss: %s lives in %v, want remote only", id, row.Locations)
		}
		if v := mustOK(t, fp.maimR(rem, "verify", id)); !strings.Contains(v.Stdout, "intact on the remote") {
			t.Errorf("verify --remote: %s", v)
		}
		rr := mustOK(t, fp.maimR(rem, "restore"))
		if !strings.Contains(rr.Stdout, "backup "+id+" fetched from ") || !strings.Contains(rr.Stdout, "(not in the local backup dir") || !strings.Contains(rr.Stdout, "from backup "+id) {
			t.Errorf("restore did not say it fetched %s from the remote: %s", id, rr)
		}
		treediff.AssertSame(t, want, treediff.Of(t, fp.vol), treediff.Options{})
		safety := safetyLine.FindStringSubmatch(rr.Stdout)
		if safety == nil || !rem.has(fp.Name, safety[1]) {
			t.Errorf("the restore's safety backup is not on the remote: %s", rr)
		}

		// A local copy that fails its hashes (one byte flipped, the size kept) is fetched again.
		arch := filepath.Join(fp.backupPath(id), fp.manifest(id).source(t, "storedata").Archive)
		b, err := os.ReadFile(arch)
		must(t, err)
		b[len(b)/2] ^= 0xff
		must(t, os.WriteFile(arch, b, 0o600))
		damage(t, fp.vol)
		rr = mustOK(t, fp.maimR(rem, "restore", id, "--no-safety-backup"))
		if !strings.Contains(rr.Stdout, "backup "+id+" fetched from ") || !strings.Contains(rr.Stdout, "(the local copy fails its hashes") {
			t.Errorf("restore did not fetch the damaged backup %s again: %s", id, rr)
		}
		treediff.AssertSame(t, want, treediff.Of(t, fp.vol), treediff.Options{})
	})
}

// TestRemoteRollbackAfterTheBackupDirIsLost: an upgrade with --remote leaves its backup
// off the host; with the backup dir gone, rollback fetches it and puts v1 and its data back.
func TestRemoteRollbackAfterTheBackupDirIsLost(t *testing.T) {
	t.Parallel()
	eachRemote(t, func(t *testing.T, rem remoteRig) {
		bp := newBotProject(t, "remote-rollback", "")
		before, _ := bp.data()
		configBefore := bp.fileBytes("config/bot_config.toml")
		bp.setEnv("BOT_VERSION", "2.0.0")
		r := bp.maimR(rem, append(upgradeArgs, "--require-remote")...)
		id := upgraded(t, r, bp.Name, bp.repo+":1.0.0", bp.repo+":2.0.0")
		if !strings.Contains(r.Stdout, "backup "+id+" copied to ") || !rem.has(bp.Name, id) {
			t.Fatalf("the upgrade's backup was not copied: %s", r)
		}
		// The config-merge report, written into the backup after it was complete, went too.
		if !rem.hasFile(bp.Name, id, "config-merge.txt") {
			t.Errorf("the upgrade's config-merge report is not on the remote")
		}
		// --require-remote: the copy was complete before the new version started.
		// (Its archives, that is: the manifest is written again once the report is sent.)
		v2 := bp.wantBot("2.0.0")
		for _, src := range bp.manifest(id).Sources {
			if at := rem.written(bp.Name, id, src.Archive); at.After(ts(t, v2.State.StartedAt)) {
				t.Errorf("%s reached the remote at %s, after v2 started at %s", src.Archive, at, v2.State.StartedAt)
			}
		}
		must(t, os.RemoveAll(bp.BackupDir))
		bp.setEnv("BOT_VERSION", "1.0.0")
		rr := mustOK(t, bp.maimR(rem, "rollback", "--stable-period", "3s", "--timeout", "2m"))
		if !strings.Contains(rr.Stdout, "backup "+id+" fetched from ") || !strings.Contains(rr.Stdout, "rolled back to backup "+id) {
			t.Errorf("rollback did not fetch and use %s: %s", id, rr)
		}
		if c := bp.wantBot("1.0.0"); c.Image != bp.v1ID {
			t.Errorf("after the rollback the bot runs %s, want %s", c.Image, bp.v1ID)
		}
		rolled, _ := bp.data()
		wantRestored(t, "rollback from the remote", before, rolled, "1.0.0")
		if got := bp.fileBytes("config/bot_config.toml"); got != configBefore {
			t.Errorf("rollback from the remote did not put the config back byte for byte:\n%s", got)
		}
	})
}

// TestRemoteUnreachable: an S3 remote on a closed port keeps the local backup, warns,
// notifies and exits 13; with --require-remote an upgrade is refused before anything
// stops (the bot still runs v1, started when it was, and no backup was made).
func TestRemoteUnreachable(t *testing.T) {
	t.Parallel()
	bp := newBotProject(t, "remote-down", "")
	wh := newWebhook(t)
	closed := "http://" + closedPort(t)
	rem := remoteRig{url: "s3://maim-test/maim", env: s3Env(closed, &testrig.S3Server{Region: "us-east-1", AccessKey: "k", SecretKey: "s3cretkey"})}
	r := bp.maimR(rem, "backup", "--notify", wh.url())
	if r.Code != 13 || !strings.Contains(r.Stderr, "on this host only") {
		t.Fatalf("backup with an unreachable remote: want exit 13 and a warning: %s", r)
	}
	id := backupID(t, r)
	if row, ok := rowByID(bp.backups(), id); !ok || row.Status != "complete" {
		t.Errorf("the local backup %s is not complete: %+v", id, row)
	}
	msgs := strings.Join(wh.take(), "\n")
	if !strings.Contains(msgs, "remote copy failed: backup of "+bp.Name+" is on this host only") || !strings.Contains(msgs, "Backup: "+id) {
		t.Errorf("no remote-copy-failed notification: %q", msgs)
	}
	if strings.Contains(r.Stdout+r.Stderr+msgs, "s3cretkey") {
		t.Errorf("the secret key shows: %s", r)
	}

	before := bp.containers()
	n := len(bp.backups())
	bp.setEnv("BOT_VERSION", "2.0.0")
	r = bp.maimR(rem, append(upgradeArgs, "--require-remote")...)
	if r.Code != 13 || !strings.Contains(r.Stderr, "--require-remote") {
		t.Fatalf("upgrade --require-remote with an unreachable remote: want exit 13 before anything stops: %s", r)
	}
	after := bp.containers()
	if !after["bot"].State.Running || after["bot"].State.StartedAt != before["bot"].State.StartedAt || after["bot"].Image != bp.v1ID {
		t.Errorf("the refused upgrade touched the bot: %+v", after["bot"].State)
	}
	if got := len(bp.backups()); got != n {
		t.Errorf("the refused upgrade made a backup (%d, was %d)", got, n)
	}
}

// TestRemotePruneKeepsTheRollbacksBackup: prune --remote applies the same rule to the
// remote (SeaweedFS), and the upgrade's backup a rollback needs stays there.
func TestRemotePruneKeepsTheRollbacksBackup(t *testing.T) {
	t.Parallel()
	rem := s3Remote(t)
	bp := newBotProject(t, "remote-prune", "")
	bp.setEnv("BOT_VERSION", "2.0.0")
	up := upgraded(t, bp.maimR(rem, upgradeArgs...), bp.Name, bp.repo+":1.0.0", bp.repo+":2.0.0")
	var manual []string
	for range 3 {
		// whole: an incremental one keeps its bases (TestIncrementalBackups)
		manual = append(manual, backupID(t, mustOK(t, bp.maimR(rem, "backup", "--full"))))
	}
	r := mustOK(t, bp.maimR(rem, "prune", "--keep", "1"))
	if !strings.Contains(r.Stdout, "on the remote:") {
		t.Errorf("prune --remote says nothing of the remote: %s", r)
	}
	for _, id := range []string{up, manual[2]} {
		if !rem.has(bp.Name, id) {
			t.Errorf("prune removed %s from the remote: %s", id, r)
		}
	}
	for _, id := range manual[:2] {
		if rem.has(bp.Name, id) {
			t.Errorf("prune --keep 1 kept %s on the remote: %s", id, r)
		}
	}
}

// TestRemoteEncryptedCopy: with --encrypt-to the archives leave the host sealed with age
// (the objects on SeaweedFS are neither zstd nor tar), the local copy stays plain; with the
// backup dir gone a restore without the identity is refused with 14 and changes nothing,
// and with --identity it restores byte for byte. Progress shows the copy with its total.
func TestRemoteEncryptedCopy(t *testing.T) {
	t.Parallel()
	rem := s3Remote(t)
	key, err := age.GenerateX25519Identity()
	must(t, err)
	keyFile := filepath.Join(t.TempDir(), "key.txt")
	must(t, os.WriteFile(keyFile, []byte(key.String()+"\n"), 0o600))
	fp := newFullProject(t, "remote-sealed")
	compose(t, fp.project, "stop")
	want := treediff.Of(t, fp.vol)
	r := mustOK(t, fp.maimR(rem, "backup", "--encrypt-to", key.Recipient().String(), "--progress", "plain"))
	id := backupID(t, r)
	if !strings.Contains(r.Stdout, "backup "+id+" copied to ") || !strings.Contains(r.Stdout, "sealed with age") {
		t.Fatalf("backup was not copied sealed: %s", r)
	}
	if !strings.Contains(r.Stderr, "copy "+id+" to s3://") || !strings.Contains(r.Stderr, ": started (") {
		t.Errorf("no progress of the copy with its total: %s", r.Stderr)
	}
	m := fp.manifest(id)
	arch := m.source(t, "storedata").Archive
	local, err := os.ReadFile(filepath.Join(fp.backupPath(id), arch))
	must(t, err)
	if !bytes.HasPrefix(local, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		t.Errorf("the local archive is not plain zstd")
	}
	s := rem.client(t)
	o, _, _, err := s.GetObject(context.Background(), rem.bucket, "maim/"+fp.Name+"/"+id+"/"+arch, minio.GetObjectOptions{})
	must(t, err)
	remote, err := io.ReadAll(o)
	o.Close()
	must(t, err)
	if !bytes.HasPrefix(remote, []byte("age-encryption.org/v1\n")) || bytes.Contains(remote, []byte("ustar")) {
		t.Errorf("the remote object of %s is not age ciphertext (%q...)", arch, remote[:min(32, len(remote))])
	}

	must(t, os.RemoveAll(fp.BackupDir))
	damage(t, fp.vol)
	damaged := treediff.Of(t, fp.vol)
	rr := fp.maimR(rem, "restore", id)
	if rr.Code != 14 {
		t.Fatalf("restore of a sealed copy without an identity: want exit 14: %s", rr)
	}
	treediff.AssertSame(t, damaged, treediff.Of(t, fp.vol), treediff.Options{})
	mustOK(t, fp.maimR(rem, "restore", id, "--identity", keyFile))
	treediff.AssertSame(t, want, treediff.Of(t, fp.vol), treediff.Options{})
}

// closedPort is a loopback address nothing listens on (free a moment ago).
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := l.Addr().String()
	must(t, l.Close())
	return addr
}
