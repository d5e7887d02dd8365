package e2e

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/archive"
)

// adapterBind is the single-file bind MaiBot's compose files give the adapter's config.
const adapterBind = "./docker-config/adapters/config.toml:/adapters/config.toml"

// TestSingleFileSwappedForLinkAfterPlan: a single-file bind of the project is swapped for a
// symlink to a file outside the project after the plan (what a service that can write the
// dir above it can do). On every data path (host, helper container, archive API), the
// upgrade's backup fails for that source (held after the stop, the link swapped in, let go)
// without reading the outside file into the backup dir, nothing changed; a restore held
// after its safety backup, the link swapped in, let go, refuses without writing the outside
// file. Before, the backup archived the outside file and the restore overwrote it.
func TestSingleFileSwappedForLinkAfterPlan(t *testing.T) {
	t.Parallel()
	_, other := engineArch(t)
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"host", nil},
		{"helper", []string{"MAIM_NO_HOST_PATH=1"}},
		{"archive-api", []string{"MAIM_NO_HOST_PATH=1", "MAIM_HELPER_ARCH=" + other}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bp := makeBotProject(t, "nofollow-"+tc.name, "")
			bp.WriteCompose(strings.Replace(readCompose(t, bp.project), "./config:/bot/config]", "./config:/bot/config, "+adapterBind+"]", 1))
			conf := bp.Path("docker-config/adapters/config.toml")
			bp.WriteFile("docker-config/adapters/config.toml", "[inner]\nversion = \"0.4.0\"\n")
			bp.start()
			outside := filepath.Join(t.TempDir(), "authorized_keys")
			must(t, os.WriteFile(outside, []byte("ssh-ed25519 SECRET-OUTSIDE\n"), 0o600))
			before := hostFileOf(t, outside)
			swap := func() {
				must(t, os.Remove(conf))
				must(t, os.Symlink(outside, conf))
			}
			unswap := func() {
				must(t, os.Remove(conf))
				must(t, os.WriteFile(conf, []byte("[inner]\nversion = \"0.4.0\"\n"), 0o644))
			}

			// The upgrade's backup, after the stop.
			fp := filepath.Join(t.TempDir(), "failpoint")
			run := bp.maimStart(append([]string{"MAIM_FAILPOINT=upgrade:backing-up:wait", "MAIM_FAILPOINT_FILE=" + fp}, tc.env...),
				"upgrade", "--image", "bot="+bp.Bot("2.0.0"), "--accept-breaking", "--stable-period", "2s", "--timeout", "2m")
			waitFailpoint(t, run, fp, 3*time.Minute)
			swap()
			must(t, os.Remove(fp))
			r := run.wait(t, 5*time.Minute)
			if r.Code == 0 || !strings.Contains(r.Stderr, "config.toml") || !strings.Contains(r.Stderr, outside) {
				t.Errorf("upgrade through a link leading out of the project: want a failure naming the file and the link's target: %s", r)
			}
			t.Logf("upgrade: exit %d: %s", r.Code, lastLine(r.Stderr))
			wantNotArchived(t, bp.BackupDir, "SECRET-OUTSIDE")
			bp.wantBot("1.0.0")
			wantHostFile(t, "after the upgrade", outside, before)
			unswap()

			// A restore, after its safety backup.
			id := backupID(t, mustOK(t, bp.maimWith(tc.env, "backup")))
			fp = filepath.Join(t.TempDir(), "failpoint-restore")
			run = bp.maimStart(append([]string{"MAIM_FAILPOINT=restore:backed-up:wait", "MAIM_FAILPOINT_FILE=" + fp}, tc.env...),
				append(append([]string(nil), restoreArgs...), id)...)
			waitFailpoint(t, run, fp, 3*time.Minute)
			swap()
			must(t, os.Remove(fp))
			r = run.wait(t, 5*time.Minute)
			if r.Code == 0 {
				t.Errorf("restore through a link leading out of the project succeeded: %s", r)
			}
			t.Logf("restore: exit %d: %s", r.Code, lastLine(r.Stderr))
			wantHostFile(t, "after the restore", outside, before)
			if got, err := os.Readlink(conf); err != nil || got != outside {
				t.Errorf("the link was replaced: %q, %v", got, err)
			}
			wantNotArchived(t, bp.BackupDir, "SECRET-OUTSIDE")
		})
	}
}

// readCompose is the project's compose file as written.
func readCompose(t *testing.T, p *project) string {
	t.Helper()
	b, err := os.ReadFile(p.Path("compose.yaml"))
	must(t, err)
	return string(b)
}

// wantNotArchived fails when any archive under dir holds needle (decompressed).
func wantNotArchived(t *testing.T, dir, needle string) {
	t.Helper()
	must(t, filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(needle)) {
			t.Errorf("%s holds %q", p, needle)
			return nil
		}
		if r, err := archive.Decompress(bytes.NewReader(b), archive.DetectCompression(p)); err == nil {
			out, _ := io.ReadAll(r)
			r.Close()
			if bytes.Contains(out, []byte(needle)) {
				t.Errorf("%s holds %q", p, needle)
			}
		}
		return nil
	}))
}
