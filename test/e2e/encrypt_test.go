package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/docker-maim/docker-maim/internal/testrig/treediff"
	"golang.org/x/crypto/ssh"
)

// ExitIdentity is the exit code of encrypted data without a (matching) identity (README).
const exitIdentity = 14

// ageKeyFile writes a new age identity file and returns its path and public key.
func ageKeyFile(t *testing.T) (path, recipient string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	must(t, err)
	path = filepath.Join(t.TempDir(), "age.key")
	must(t, os.WriteFile(path, []byte("# public key: "+id.Recipient().String()+"\n"+id.String()+"\n"), 0o600))
	return path, id.Recipient().String()
}

// sshKeyFile writes a new unencrypted OpenSSH ed25519 key and returns its path and its
// authorized_keys line.
func sshKeyFile(t *testing.T) (path, recipient string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	must(t, err)
	block, err := ssh.MarshalPrivateKey(priv, "e2e")
	must(t, err)
	path = filepath.Join(t.TempDir(), "id_ed25519")
	must(t, os.WriteFile(path, pem.EncodeToMemory(block), 0o600))
	spk, err := ssh.NewPublicKey(pub)
	must(t, err)
	return path, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(spk))) + " e2e@test"
}

// trees describes every data dir of a fullProject (the bot's starts.log and
// effective.json, which it writes on every start, left out).
func (p *fullProject) trees() map[string]treediff.Tree {
	out := map[string]treediff.Tree{}
	for name, dir := range map[string]string{"storedata": p.vol, "cache": p.cache, "config": p.Path("config")} {
		tr := treediff.Of(p.t, dir)
		delete(tr, "starts.log")
		delete(tr, "effective.json")
		out[name] = tr
	}
	return out
}

// TestEncryptedBackupRestore: backup --encrypt-local seals every archive (not readable
// as zstd or tar) and records the recipients and both hashes in a plaintext manifest;
// verify checks the ciphertext without an identity; restore without an identity, and with
// a wrong one, exits 14 before anything stops (the containers run on, untouched, nothing
// written); with the identity (MAIM_AGE_IDENTITY, an SSH key) the data comes back byte
// for byte.
func TestEncryptedBackupRestore(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p := newFullProject(t, "encrypt")
	ageKey, ageRcpt := ageKeyFile(t)
	sshKey, sshRcpt := sshKeyFile(t)
	wrongKey, _ := ageKeyFile(t)

	r := mustOK(t, p.maimEnvAge([]string{"MAIM_AGE_RECIPIENTS=" + ageRcpt + ",\n" + sshRcpt}, "backup", "--encrypt-local"))
	if !strings.Contains(r.Stdout, "encrypted with age") {
		t.Errorf("backup does not say its archives are encrypted: %s", r)
	}
	id := backupID(t, r)
	compose(t, p.project, "stop")
	want := p.trees()
	compose(t, p.project, "start", "store", "bot")
	checkSealedBackup(t, p, id, ageRcpt)

	v := mustOK(t, p.maim("verify", id))
	if !strings.Contains(v.Stdout, "only the encrypted files' hashes were checked") {
		t.Errorf("verify without an identity does not say it checked the ciphertext only: %s", v)
	}
	v = mustOK(t, p.maim("verify", id, "--identity", ageKey))
	if strings.Contains(v.Stdout, "only the encrypted") {
		t.Errorf("verify with the identity checked the ciphertext only: %s", v)
	}
	wantFail(t, p.maim("verify", id, "--identity", wrongKey), exitIdentity, "--identity")

	for _, dir := range []string{p.vol, p.cache, p.Path("config")} {
		damage(t, dir)
	}
	u := snapshotOf(p)
	wantFail(t, p.maim("restore", id), exitIdentity, "MAIM_AGE_IDENTITY", "--identity", "nothing was changed")
	untouchedButLock(p, u, "restore without an identity")
	wantFail(t, p.maim("restore", id, "--identity", wrongKey), exitIdentity, "none of the identities", "nothing was changed")
	untouchedButLock(p, u, "restore with a wrong identity")
	wantFail(t, p.maim("rollback", id), exitIdentity, "MAIM_AGE_IDENTITY")
	untouchedButLock(p, u, "rollback without an identity")
	for svc, c := range p.containers() {
		if running := c.State.Running; running != (svc != "idle") {
			t.Errorf("after the refused restores %s running=%v", svc, running)
		}
	}

	mustOK(t, p.maimEnvAge([]string{"MAIM_AGE_IDENTITY=" + sshKey}, "restore", id))
	got := p.trees()
	for name := range want {
		// storedata's root changes when the bot, started again, writes effective.json
		if d := treediff.Diff(want[name], got[name], treediff.Options{NoRootMtime: name == "storedata"}); len(d) > 0 {
			t.Errorf("%s restored from the encrypted backup differs:\n%s", name, strings.Join(d, "\n"))
		}
	}
}

// maimEnvAge is p.maim with extra environment entries.
func (p *fullProject) maimEnvAge(env []string, args ...string) Result {
	p.t.Helper()
	return maimEnv(p.t, p.Dir, append([]string{"COMPOSE_PROJECT_NAME=" + p.Name}, env...), args...)
}

// checkSealedBackup: every archive of backup id starts with the age header and is neither
// zstd nor tar; the manifest records the age recipient, an SSH fingerprint (not the
// key's comment) and both hashes, in plaintext.
func checkSealedBackup(t *testing.T, p *fullProject, id, ageRcpt string) {
	t.Helper()
	dir := p.backupPath(id)
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	must(t, err)
	var m struct {
		FormatVersion int `json:"format_version"`
		Encryption    *struct {
			Scheme     string   `json:"scheme"`
			Recipients []string `json:"recipients"`
		} `json:"encryption"`
		Sources []struct {
			Archive string `json:"archive"`
			SHA256  string `json:"sha256"`
			Size    int64  `json:"archive_size"`
			Plain   *struct {
				SHA256 string `json:"sha256"`
				Size   int64  `json:"size"`
			} `json:"plain"`
			Delta *struct {
				Archive string `json:"archive"`
			} `json:"delta"`
		} `json:"sources"`
	}
	must(t, json.Unmarshal(raw, &m))
	if m.Encryption == nil || m.Encryption.Scheme != "age" || len(m.Encryption.Recipients) != 2 ||
		m.Encryption.Recipients[0] != ageRcpt || !strings.HasPrefix(m.Encryption.Recipients[1], "ssh-ed25519 SHA256:") {
		t.Fatalf("manifest encryption: %s", raw)
	}
	if bytes.Contains(raw, []byte("e2e@test")) || bytes.Contains(raw, []byte("AGE-SECRET-KEY")) {
		t.Errorf("the manifest holds a key's comment or a secret:\n%s", raw)
	}
	for _, s := range m.Sources {
		if s.Plain == nil || s.Plain.SHA256 == s.SHA256 {
			t.Errorf("%s: plaintext %+v, ciphertext %s: want both hashes", s.Archive, s.Plain, s.SHA256)
		}
		files := []string{s.Archive}
		if s.Delta != nil {
			files = append(files, s.Delta.Archive)
		}
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(dir, f))
			must(t, err)
			if !bytes.HasPrefix(b, []byte("age-encryption.org/v1\n")) {
				t.Errorf("%s is not sealed with age: %q", f, b[:min(len(b), 24)])
			}
			if bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}) || (len(b) > 262 && string(b[257:262]) == "ustar") {
				t.Errorf("%s reads as zstd or tar", f)
			}
		}
	}
}

// untouchedButLock is u.same for a refused verb that took the write lock: the lock file's
// time in the backup dir may change, nothing else (containers, data, backups, history).
func untouchedButLock(p *fullProject, u untouched, what string) {
	p.t.Helper()
	lock := p.Name + "/.lock"
	if _, ok := u.backups[lock]; ok {
		now := treediff.Of(p.t, p.BackupDir)
		u.backups[lock] = now[lock]
	}
	u.same(what)
}

// TestEncryptedUpgradeRollsBack: upgrade --encrypt-local without an identity is refused
// (exit 14) before anything stops or is written, since its failure path restores from the
// encrypted backup; with one, v2 migrates the data and crashes, and the automatic rollback
// restores v1's data from the encrypted backup.
func TestEncryptedUpgradeRollsBack(t *testing.T) {
	t.Parallel()
	bp := newBotProject(t, "upgrade-encrypt", "BOT_FAIL=crash-late\nBOT_FAIL_ON=2.0.0\n")
	ageKey, ageRcpt := ageKeyFile(t)
	_, otherRcpt := ageKeyFile(t)
	before, _ := bp.data()
	bp.setEnv("BOT_VERSION", "2.0.0")
	args := append(append([]string{}, upgradeArgs...), "--encrypt-local", "--encrypt-to", ageRcpt)

	startedAt := bp.containers()["bot"].State.StartedAt
	wantFail(t, bp.maim(args...), exitIdentity, "needs the identity", "nothing was changed")
	wantFail(t, bp.maim(append([]string{"upgrade", "--encrypt-local", "--encrypt-to", otherRcpt, "--identity", ageKey}, upgradeArgs[1:]...)...), exitIdentity, "none of the identities")
	if c := bp.containers()["bot"]; !c.State.Running || c.State.StartedAt != startedAt {
		t.Errorf("the refused upgrade touched the bot: %+v", c.State)
	}
	if ents, _ := os.ReadDir(filepath.Join(bp.BackupDir, bp.Name)); countDirs(ents) != 0 {
		t.Errorf("the refused upgrade wrote %d backups", countDirs(ents))
	}

	r := bp.maim(append(args, "--identity", ageKey)...)
	if r.Code != 10 {
		t.Fatalf("want exit 10 (failed and rolled back): %s", r)
	}
	id := regexpFind(t, `upgrade failed and was rolled back to backup (\S+): the project runs as before`, r.Stdout)
	if c := bp.wantBot("1.0.0"); c.Image != bp.v1ID {
		t.Errorf("after the rollback the bot runs image %s, want the old %s", c.Image, bp.v1ID)
	}
	after, dir := bp.data()
	wantRestored(t, "automatic rollback from an encrypted backup", before, after, "1.0.0")
	if d := readDataJSON(t, dir); d.Schema != 1 {
		t.Errorf("data.json after the rollback: %+v", d)
	}
	raw, err := os.ReadFile(filepath.Join(bp.BackupDir, bp.Name, id, "manifest.json"))
	must(t, err)
	if !bytes.Contains(raw, []byte(`"encryption"`)) || !bytes.Contains(raw, []byte(ageRcpt)) {
		t.Errorf("the upgrade's backup %s is not recorded as encrypted:\n%s", id, raw)
	}
}

// TestEncryptedUpgradeKilledResolved: an upgrade --encrypt-local killed while recreating
// leaves its journal; rollback without the identity is refused (exit 14) and keeps it;
// with MAIM_AGE_IDENTITY the rollback resolves it from the encrypted backup, v1 back on
// byte-identical data.
func TestEncryptedUpgradeKilledResolved(t *testing.T) {
	t.Parallel()
	c := prepareCrash(newBotProject(t, "kill-encrypt", ""))
	ageKey, ageRcpt := ageKeyFile(t)
	args := append(append([]string{}, upgradeArgs...), "--encrypt-local", "--encrypt-to", ageRcpt, "--identity", ageKey)
	wantKilled(t, c.maimWith([]string{"MAIM_FAILPOINT=upgrade:recreating"}, args...))
	wantInterrupted(t, c.project, "upgrade", "recreating")

	wantFail(t, c.maim(rollbackArgs...), exitIdentity, "MAIM_AGE_IDENTITY")
	if st := c.status(); st.Interrupted == nil {
		t.Fatal("the refused rollback dropped the journal")
	}
	r := mustOK(t, c.maimWith([]string{"MAIM_AGE_IDENTITY=" + ageKey}, rollbackArgs...))
	if !strings.Contains(r.Stdout, "resolved the interrupted upgrade in phase recreating") {
		t.Errorf("rollback does not say what it resolved: %s", r)
	}
	c.wantBackToV1(t, "rollback of a killed encrypted upgrade")
	c.wantSettled(t)
}
