package journal

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/backup"
)

func newJournals(t *testing.T) Journals {
	t.Helper()
	return Journals{
		State:   backup.State{Dir: filepath.Join(t.TempDir(), "state", "engine")},
		Store:   backup.Local(filepath.Join(t.TempDir(), "backups")),
		Project: "demo",
	}
}

func perm(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestJournalSaveLoadRoundTrip(t *testing.T) {
	j := newJournals(t)
	if jr, err := j.Load(); err != nil || jr != nil {
		t.Fatalf("Load with no journal = %+v, %v; want nil, nil", jr, err)
	}
	started := time.Date(2026, 11, 25, 22, 15, 30, 0, time.UTC)
	jr := &Journal{
		Op: "upgrade", Project: "demo", PID: 4242, Started: started, Phase: PhaseBackingUp,
		Running:    []string{"db", "bot"},
		Containers: map[string][]string{"db": {"c1"}, "bot": {"c2", "c3"}},
		Images: []ImageChange{{Service: "bot", OldRef: "bot:1", OldID: "sha256:a", OldDigests: []string{"bot@sha256:x"}, OldVersion: "1.0.0",
			NewRef: "bot:2", NewID: "sha256:b", NewVersion: "2.0.0", Pin: "docker-maim/pin:demo.bot.20261125T221530Z"}},
		WorkingDir: "/srv/demo", ComposeFiles: []string{"/srv/demo/compose.yaml"}, EnvFiles: []string{"/srv/demo/.env"}, Profiles: []string{"dev"},
	}
	before := time.Now().UTC()
	if err := j.Save(jr); err != nil {
		t.Fatal(err)
	}
	if jr.Updated.Before(before) {
		t.Errorf("Save must stamp Updated: %v", jr.Updated)
	}
	if m := perm(t, j.Path()); m != 0o600 {
		t.Errorf("journal mode %o, want 600", m)
	}
	if m := perm(t, j.State.ProjectDir("demo")); m != 0o700 {
		t.Errorf("project dir mode %o, want 700", m)
	}
	if _, err := os.Stat(j.Path() + ".partial"); !os.IsNotExist(err) {
		t.Errorf(".partial left behind: %v", err)
	}
	got, err := j.Load()
	if err != nil {
		t.Fatal(err)
	}
	jr.Images[0].NewLabels = nil // not serialised
	if !reflect.DeepEqual(got, jr) {
		t.Fatalf("Load =\n%+v\nwant\n%+v", got, jr)
	}

	// a later phase overwrites
	jr.Phase, jr.BackupID = PhaseBackedUp, "20261125T221530Z"
	if err := j.Save(jr); err != nil {
		t.Fatal(err)
	}
	if got, _ := j.Load(); got.Phase != PhaseBackedUp || got.BackupID != "20261125T221530Z" {
		t.Fatalf("after the second Save: %+v", got)
	}
	if filepath.Base(j.Path()) != "journal.json" || filepath.Dir(j.Path()) != j.State.ProjectDir("demo") {
		t.Errorf("journal at %s", j.Path())
	}
}

func TestJournalLoadUnreadable(t *testing.T) {
	j := newJournals(t)
	_ = os.MkdirAll(j.State.ProjectDir("demo"), 0o700)
	_ = os.WriteFile(j.Path(), []byte(`{"op": "upgrade", `), 0o600)
	if _, err := j.Load(); err == nil || !strings.Contains(err.Error(), j.Path()) {
		t.Fatalf("Load of a torn journal = %v, want an error naming it", err)
	}
}

func TestJournalFinishAppendHistory(t *testing.T) {
	j := newJournals(t)
	if h, err := j.History(); err != nil || h != nil {
		t.Fatalf("History with none = %v, %v", h, err)
	}
	if err := j.Save(&Journal{Op: "upgrade", Phase: PhasePlanned}); err != nil {
		t.Fatal(err)
	}
	t1 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := j.Append(Record{Op: "upgrade", Result: "refused", Started: t1, Finished: t1.Add(time.Second), Error: "breaking"}); err != nil {
		t.Fatal(err)
	}
	if jr, _ := j.Load(); jr == nil {
		t.Fatal("Append must leave the journal")
	}
	if err := j.Finish(Record{Op: "upgrade", Result: "upgraded", Started: t1, BackupID: "20260102T030405Z", Downtime: 3 * time.Second,
		Images: []ImageChange{{Service: "bot", OldRef: "bot:1", NewRef: "bot:2"}}}); err != nil {
		t.Fatal(err)
	}
	if jr, err := j.Load(); err != nil || jr != nil {
		t.Fatalf("Finish must remove the journal: %+v, %v", jr, err)
	}
	if err := j.Append(Record{Op: "rollback", Result: "rolled-back"}); err != nil {
		t.Fatal(err)
	}
	// a torn last line (crash while appending) is skipped, the rest is read
	f, _ := os.OpenFile(j.historyPath(), os.O_WRONLY|os.O_APPEND, 0)
	_, _ = f.WriteString(`{"op":"upgr`)
	f.Close()
	h, err := j.History()
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 3 {
		t.Fatalf("History = %+v, want 3 records", h)
	}
	if h[0].Result != "refused" || !h[0].Finished.Equal(t1.Add(time.Second)) {
		t.Errorf("record 0 = %+v (an explicit Finished is kept by Append)", h[0])
	}
	if h[1].Result != "upgraded" || h[1].BackupID != "20260102T030405Z" || h[1].Downtime != 3*time.Second || h[1].Finished.IsZero() || len(h[1].Images) != 1 {
		t.Errorf("record 1 = %+v", h[1])
	}
	if h[2].Op != "rollback" || h[2].Finished.IsZero() {
		t.Errorf("record 2 = %+v (Append stamps Finished)", h[2])
	}
	if m := perm(t, j.historyPath()); m != 0o600 {
		t.Errorf("history mode %o, want 600", m)
	}
	// Finish without a journal is fine
	if err := j.Finish(Record{Op: "upgrade", Result: "nothing-to-do"}); err != nil {
		t.Fatal(err)
	}
}

func TestSplitLines(t *testing.T) {
	got := splitLines([]byte("a\n\nbb\nc"))
	var s []string
	for _, l := range got {
		s = append(s, string(l))
	}
	if want := []string{"a", "bb", "c"}; !reflect.DeepEqual(s, want) {
		t.Fatalf("splitLines = %q, want %q", s, want)
	}
}

func TestPhaseDataChanged(t *testing.T) {
	for p, want := range map[Phase]bool{
		PhasePlanned:     false,
		PhaseBackingUp:   false,
		PhaseBackedUp:    true,
		PhaseVerifying:   false, // read-back before --reset-data: nothing changed yet
		PhaseResetting:   true,
		PhaseMerging:     true,
		PhaseRecreating:  true,
		PhaseHealth:      true,
		PhaseRollingBack: true,
		Phase("future"):  true, // unknown: assume the worst
	} {
		if got := DataChanged(p); got != want {
			t.Errorf("%s.DataChanged() = %v, want %v", p, got, want)
		}
	}
}

func TestImageChangeHelpers(t *testing.T) {
	c := ImageChange{OldRef: "bot:1.0.0", OldVersion: "1.0.0", NewRef: "bot:latest", NewVersion: "2.0.0", OldID: "a", NewID: "b"}
	if c.From() != "bot:1.0.0" || c.To() != "bot:latest (2.0.0)" {
		t.Errorf("From/To = %q / %q", c.From(), c.To())
	}
	if !c.Changed() {
		t.Error("a -> b is a change")
	}
	if (ImageChange{OldID: "a", NewID: "a"}).Changed() || (ImageChange{OldID: "a"}).Changed() {
		t.Error("same ID or no new ID is no change")
	}
	if !(ImageChange{NewID: "b"}).Changed() {
		t.Error("a new service is a change")
	}
}

// The journal lives in the state directory and records the backup dir it was saved with.
func TestJournalInStateDirRecordsBackupDir(t *testing.T) {
	j := newJournals(t)
	if err := j.Save(&Journal{Op: "upgrade", Phase: PhaseBackedUp, BackupID: "20261125T221530Z"}); err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(j.State.Dir, "demo", "journal.json"); j.Path() != want {
		t.Errorf("journal at %s, want %s", j.Path(), want)
	}
	if _, err := os.Stat(filepath.Join(j.Store.LocalRoot(), "demo", "journal.json")); !os.IsNotExist(err) {
		t.Errorf("a journal in the backup dir: %v", err)
	}
	// another backup dir of the same project sees it, and where its backup is
	other := Journals{State: j.State, Store: backup.Local(filepath.Join(t.TempDir(), "other")), Project: "demo"}
	got, err := other.Load()
	if err != nil || got == nil {
		t.Fatalf("Load with another backup dir = %+v, %v", got, err)
	}
	if got.BackupDir != j.Store.Location() {
		t.Errorf("BackupDir = %q, want %q", got.BackupDir, j.Store.Location())
	}
	if err := other.NonePending(); !errors.Is(err, ErrInterrupted) {
		t.Errorf("NonePending with another backup dir = %v", err)
	}
	if err := (Journals{Store: j.Store, Project: "demo"}).Save(&Journal{Op: "upgrade"}); err == nil {
		t.Errorf("Save without a state dir succeeded")
	}
}

// A journal and history an older docker-maim left in <backup-dir>/<project>/ move to the
// state directory on first use, content kept, so the interrupted operation is still found.
func TestJournalMigratesFromBackupDir(t *testing.T) {
	j := newJournals(t)
	old := filepath.Join(j.Store.LocalRoot(), "demo")
	if err := os.MkdirAll(old, 0o700); err != nil {
		t.Fatal(err)
	}
	started := time.Date(2026, 11, 25, 22, 15, 30, 0, time.UTC)
	legacy := &Journal{Op: "upgrade", Project: "demo", PID: 77, Started: started, Updated: started, Phase: PhaseMerging, BackupID: "20261125T221530Z",
		Running: []string{"bot"}, Containers: map[string][]string{"bot": {"c1"}}, WorkingDir: "/srv/demo", ComposeFiles: []string{"/srv/demo/compose.yaml"}}
	b, _ := json.MarshalIndent(legacy, "", "  ")
	if err := os.WriteFile(filepath.Join(old, "journal.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	oldHist := `{"op":"upgrade","result":"upgraded","started":"2026-01-01T00:00:00Z","finished":"2026-01-01T00:01:00Z","backup_id":"20260101T000000Z"}` + "\n"
	if err := os.WriteFile(filepath.Join(old, "history.jsonl"), []byte(oldHist), 0o600); err != nil {
		t.Fatal(err)
	}
	// a record the state dir already holds comes after the old ones
	if err := os.MkdirAll(j.State.ProjectDir("demo"), 0o700); err != nil {
		t.Fatal(err)
	}
	newHist := `{"op":"backup","result":"done","started":"2026-02-01T00:00:00Z","finished":"2026-02-01T00:00:01Z"}` + "\n"
	if err := os.WriteFile(j.historyPath(), []byte(newHist), 0o600); err != nil {
		t.Fatal(err)
	}

	got, err := j.Load()
	if err != nil || got == nil {
		t.Fatalf("Load = %+v, %v; want the old journal", got, err)
	}
	want := *legacy
	want.BackupDir = j.Store.Location() // its backups are in the dir it was found in
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("migrated journal\n got %+v\nwant %+v", *got, want)
	}
	for _, name := range []string{"journal.json", "history.jsonl"} {
		if _, err := os.Stat(filepath.Join(old, name)); !os.IsNotExist(err) {
			t.Errorf("%s still in the backup dir: %v", name, err)
		}
	}
	if m := perm(t, j.Path()); m != 0o600 {
		t.Errorf("migrated journal mode %o", m)
	}
	h, err := j.History()
	if err != nil || len(h) != 2 || h[0].BackupID != "20260101T000000Z" || h[1].Op != "backup" {
		t.Errorf("history after the move = %+v, %v", h, err)
	}
	// once moved, another backup dir sees it too
	if other, err := (Journals{State: j.State, Store: backup.Local(t.TempDir()), Project: "demo"}).Load(); err != nil || other == nil || other.Phase != PhaseMerging {
		t.Errorf("Load with another backup dir after the move = %+v, %v", other, err)
	}

	// a torn old journal is reported, naming it, not skipped
	j2 := newJournals(t)
	old2 := filepath.Join(j2.Store.LocalRoot(), "demo")
	_ = os.MkdirAll(old2, 0o700)
	_ = os.WriteFile(filepath.Join(old2, "journal.json"), []byte(`{"op":`), 0o600)
	if _, err := j2.Load(); err == nil || !strings.Contains(err.Error(), filepath.Join(old2, "journal.json")) {
		t.Errorf("Load with a torn old journal = %v", err)
	}
}

// Each phase saved reaches the progress lines; finishing clears it.
func TestJournalOnPhase(t *testing.T) {
	j := newJournals(t)
	var got []Phase
	j.OnPhase = func(p Phase) { got = append(got, p) }
	jr := &Journal{Op: "upgrade", Project: "demo", Phase: PhasePlanned}
	for _, ph := range []Phase{PhasePlanned, PhaseBackingUp, PhaseBackedUp} {
		jr.Phase = ph
		if err := j.Save(jr); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Finish(Record{Op: "upgrade", Result: "upgraded"}); err != nil {
		t.Fatal(err)
	}
	if want := []Phase{PhasePlanned, PhaseBackingUp, PhaseBackedUp, ""}; !slices.Equal(got, want) {
		t.Errorf("phases %q, want %q", got, want)
	}
}
