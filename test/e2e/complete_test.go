package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// completion is what a `__complete` request answered: the candidates (with their
// descriptions after a tab) and the directive of the `:N` line.
type completion struct {
	cands     []string
	directive string
}

// parseCompletion reads cobra's answer: candidates, one a line, then `:N`.
func parseCompletion(t *testing.T, what, stdout string) completion {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, ":") {
		t.Fatalf("%s: no `:N` directive line:\n%s", what, stdout)
	}
	return completion{cands: lines[:len(lines)-1], directive: last}
}

// dockerComplete runs the docker CLI's own completion request, `docker __complete maim
// args...`, in dir (which the CLI forwards to the plugin as `docker-maim __complete maim ...`).
func dockerComplete(t *testing.T, dir string, env []string, args ...string) completion {
	t.Helper()
	r := mustOK(t, docker(t, dir, env, append([]string{"__complete", "maim"}, args...)...))
	return parseCompletion(t, "docker __complete maim "+strings.Join(args, " "), r.Stdout)
}

func (c completion) want(t *testing.T, what string, cands []string, directive string) {
	t.Helper()
	if len(c.cands) == 0 && len(cands) == 0 {
		cands = c.cands // no candidates either way
	}
	if !reflect.DeepEqual(c.cands, cands) || c.directive != directive {
		t.Errorf("%s = %q %s, want %q %s", what, c.cands, c.directive, cands, directive)
	}
}

// TestCompletionThroughDocker: the real docker CLI completes `docker maim` by asking the
// plugin, on a running project with three real backups (two manual, one a restore's safety
// backup): backup IDs newest first with time and reason, yaml files for -f, --progress's
// values, the services for --image as SERVICE=, the sources of a backup for --source and of
// the project for --reset-data, the project for -p; `-p NAME` elsewhere still finds the
// backups; the standalone binary answers the same request; nothing in the backup dir changes.
func TestCompletionThroughDocker(t *testing.T) {
	t.Parallel()
	bp := newBotProject(t, "complete", "")
	b1 := bp.backup()
	b2 := bp.backup()
	mustOK(t, bp.maim("restore", b1))
	var list struct {
		Backups []struct {
			ID, Reason string
			Time       time.Time
		}
	}
	r := mustOK(t, bp.maim("backups", "--format", "json"))
	must(t, json.Unmarshal([]byte(r.Stdout), &list))
	if len(list.Backups) != 3 || list.Backups[1].ID != b2 || list.Backups[2].ID != b1 || list.Backups[0].Reason != "pre-restore" {
		t.Fatalf("want the safety backup, %s and %s: %s", b2, b1, r)
	}
	// IDs are times to the second: a backup taken in the same second as the one before gets
	// a suffix ("-2"), so b2 may be the prefix of the restore's safety backup too.
	var ids, withB2 []string
	for _, b := range list.Backups {
		id := b.ID + "\t" + b.Time.Local().Format("2006-01-02 15:04:05") + " " + b.Reason
		ids = append(ids, id)
		if strings.HasPrefix(b.ID, b2) {
			withB2 = append(withB2, id)
		}
	}
	before := listTree(t, bp.BackupDir)
	env := []string{"COMPOSE_PROJECT_NAME=" + bp.Name}

	// 36 = NoFileComp|KeepOrder: newest first, no file names.
	dockerComplete(t, bp.Dir, env, "restore", "").want(t, "restore ID", ids, ":36")
	dockerComplete(t, bp.Dir, env, "verify", b2).want(t, "verify ID prefix", withB2, ":36")
	dockerComplete(t, bp.Dir, env, "rollback", b1, "").want(t, "rollback's second argument", nil, ":4")
	// 8 = FilterFileExt, as compose's -f.
	dockerComplete(t, bp.Dir, env, "restore", "-f", "").want(t, "-f", []string{"yaml", "yml"}, ":8")
	dockerComplete(t, bp.Dir, env, "restore", "--progress", "").want(t, "--progress", []string{"auto", "tty", "plain", "json", "quiet"}, ":4")
	// 6 = NoSpace|NoFileComp: the REF follows the '='.
	dockerComplete(t, bp.Dir, env, "upgrade", "--image", "").want(t, "--image", []string{"bot="}, ":6")
	dockerComplete(t, bp.Dir, env, "upgrade", "--reset-data", "").want(t, "--reset-data", []string{"botdata", "./config"}, ":4")
	// 16 = FilterDirs.
	dockerComplete(t, bp.Dir, env, "backups", "--backup-dir", "").want(t, "--backup-dir", nil, ":16")

	src := dockerComplete(t, bp.Dir, env, "restore", b2, "--source", "")
	if src.directive != ":4" || !slices.Contains(src.cands, "botdata") || !slices.Contains(src.cands, "./config") || !slices.Contains(src.cands, "file:compose.yaml") {
		t.Errorf("restore %s --source: %q %s", b2, src.cands, src.directive)
	}
	proj := dockerComplete(t, bp.Dir, nil, "-p", bp.Name[:12])
	if proj.directive != ":4" || !slices.Contains(proj.cands, bp.Name+"\t"+bp.Dir) {
		t.Errorf("-p: %q %s, want %s with its directory", proj.cands, proj.directive, bp.Name)
	}
	// -p NAME in a directory without compose files: the backups of NAME.
	dockerComplete(t, t.TempDir(), nil, "-p", bp.Name, "verify", "").want(t, "-p NAME verify", ids, ":36")

	// The standalone binary answers the request without the plugin's name (as compose's does).
	cmd := exec.Command(pluginBin, "__complete", "restore", "")
	cmd.Dir, cmd.Env = bp.Dir, maimEnvOf(t, bp.BackupDir, env)
	out, err := cmd.Output()
	must(t, err)
	parseCompletion(t, "docker-maim __complete restore", string(out)).want(t, "standalone restore ID", ids, ":36")

	if after := listTree(t, bp.BackupDir); !reflect.DeepEqual(before, after) {
		t.Errorf("completion changed the backup dir:\n%q\n%q", before, after)
	}
}

// listTree lists every path under dir with its size.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	must(t, filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		out = append(out, strings.TrimPrefix(p, dir)+" "+fi.Mode().String()+" "+fi.ModTime().String())
		return nil
	}))
	return out
}
