package e2e

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const selectCompose = `services:
  bot:
    image: {{bot:1.0.0}}
    volumes:
      - ${DATA_DIR:-./nodata}:/bot/data
`

// TestProjectSelection selects one project in every way compose users know and checks,
// from the manifest each backup wrote, that the files, env files and name were honoured.
func TestProjectSelection(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	p := newProject(t, "select", selectCompose)
	p.WriteFile("b.yaml", "services:\n  bot:\n    volumes:\n      - ./extra:/extra\n")
	p.WriteFile(".env", "DATA_DIR=./data\n")
	p.WriteFile("alt.env", "DATA_DIR=./data2\n")
	writeTree(t, p.Dir, map[string]string{"data/a": "a", "data2/b": "b", "extra/c": "c"})
	other := t.TempDir() // not a project: every selection below must be explicit
	a, b := p.File, p.Path("b.yaml")

	type check struct {
		files   []string
		env     []string
		has     []string
		hasNot  []string
		workDir string
	}
	run := func(name string, dir string, env []string, args []string, c check) {
		t.Helper()
		r := mustOK(t, maimEnv(t, dir, env, args...))
		id := backupID(t, r)
		m := p.manifest(id) // under <backup-dir>/<project name>/: the name was honoured
		if m.Project != p.Name {
			t.Errorf("%s: project %q, want %q", name, m.Project, p.Name)
		}
		if !slices.Equal(m.ComposeFiles, c.files) {
			t.Errorf("%s: compose files %q, want %q", name, m.ComposeFiles, c.files)
		}
		if c.env != nil && !slices.Equal(m.EnvFiles, c.env) {
			t.Errorf("%s: env files %q, want %q", name, m.EnvFiles, c.env)
		}
		if c.workDir != "" && m.WorkingDir != c.workDir {
			t.Errorf("%s: working dir %q, want %q", name, m.WorkingDir, c.workDir)
		}
		for _, s := range c.has {
			if !m.has(s) {
				t.Errorf("%s: no source %q in %+v", name, s, m.Sources)
			}
		}
		for _, s := range c.hasNot {
			if m.has(s) {
				t.Errorf("%s: unexpected source %q", name, s)
			}
		}
	}

	run("-f -f -p before the command", other, nil,
		[]string{"-f", a, "-f", b, "-p", p.Name, "backup"},
		check{files: []string{a, b}, env: []string{p.Path(".env")}, workDir: p.Dir,
			has: []string{"./data", "./extra", "file:compose.yaml", "file:b.yaml", "file:.env"}})
	run("-f -p after the command", other, nil,
		[]string{"backup", "-f", a, "-p", p.Name},
		check{files: []string{a}, has: []string{"./data"}, hasNot: []string{"./extra", "file:b.yaml"}})
	run("COMPOSE_FILE and COMPOSE_PROJECT_NAME", other,
		[]string{"COMPOSE_FILE=" + a + string(filepath.ListSeparator) + b, "COMPOSE_PROJECT_NAME=" + p.Name},
		[]string{"backup"},
		check{files: []string{a, b}, has: []string{"./data", "./extra"}})
	run("COMPOSE_PROJECT_NAME in the project dir", p.Dir, []string{"COMPOSE_PROJECT_NAME=" + p.Name},
		[]string{"backup"},
		check{files: []string{a}, has: []string{"./data"}})
	run("--project-directory", other, nil,
		[]string{"--project-directory", p.Dir, "-p", p.Name, "backup"},
		check{files: []string{a}, workDir: p.Dir, has: []string{"./data"}})
	run("--env-file", other, nil,
		[]string{"-f", a, "--env-file", p.Path("alt.env"), "-p", p.Name, "backup"},
		check{files: []string{a}, env: []string{p.Path("alt.env")}, has: []string{"./data2", "file:alt.env"},
			hasNot: []string{"./data", "file:.env"}})

	// -p NAME alone, from another directory, finds a running project through its labels.
	compose(t, p, "up", "-d")
	run("-p NAME alone", other, nil,
		[]string{"-p", p.Name, "backup"},
		check{files: []string{a}, workDir: p.Dir, has: []string{"./data", "file:.env"}, hasNot: []string{"./extra"}})
	rows := parseRows(t, mustOK(t, maim(t, other, "-p", p.Name, "backups", "--format", "json")))
	if len(rows) != 7 {
		t.Errorf("-p NAME backups lists %d backups, want 7: %+v", len(rows), rows)
	}

	// unknown backup IDs of a known project
	for _, args := range [][]string{{"verify", "20000101T000000Z"}, {"restore", "20000101T000000Z"}, {"verify", "no-such-id"}} {
		r := maim(t, other, append([]string{"-p", p.Name}, args...)...)
		wantFail(t, r, 6, args[1])
		onlyLine(t, r)
	}
}

func TestNotAProject(t *testing.T) {
	requireEngine(t)
	t.Parallel()
	empty := t.TempDir()
	for _, cmd := range []string{"backup", "backups", "verify", "restore"} {
		r := maim(t, empty, cmd)
		wantFail(t, r, 6, "not a compose project", empty)
		onlyLine(t, r)
	}
	// a name that no container carries and no compose file defines
	name := "maimtest-nosuch-" + strings.ToLower(filepath.Base(empty))
	r := maim(t, empty, "-p", name, "backup")
	wantFail(t, r, 6, "unknown project", name)
	onlyLine(t, r)
	// a compose file that does not exist
	r = maim(t, empty, "-f", filepath.Join(empty, "missing.yaml"), "backup")
	wantFail(t, r, 6, "missing.yaml")
	onlyLine(t, r)
}
