package snapshot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/volume/volumetest"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/progress"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/volume"
	"github.com/moby/moby/api/types/container"
	mvolume "github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"
)

// fakeEngine answers what a backup of given sources asks the engine; anything else panics
// (the embedded interface is nil).
type fakeEngine struct {
	Engine
	api        string
	volumes    map[string]int64 // /system/df sizes (-1: not computed)
	diskUsages int
	// listed, when set, gives the containers ContainerList answers at each call (nil: none).
	listed func() []container.Summary
}

func (f *fakeEngine) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	if f.listed != nil {
		return client.ContainerListResult{Items: f.listed()}, nil
	}
	return client.ContainerListResult{}, nil
}

func (f *fakeEngine) ServerVersion(context.Context, client.ServerVersionOptions) (client.ServerVersionResult, error) {
	return client.ServerVersionResult{Version: "test", APIVersion: f.api}, nil
}

func (f *fakeEngine) DiskUsage(context.Context, client.DiskUsageOptions) (client.DiskUsageResult, error) {
	f.diskUsages++
	var r client.DiskUsageResult
	for name, n := range f.volumes {
		r.Volumes.Items = append(r.Volumes.Items, mvolume.Volume{Name: name, UsageData: &mvolume.UsageData{Size: n}})
	}
	r.Volumes.Items = append(r.Volumes.Items, mvolume.Volume{Name: "no-usage-data"})
	return r, nil
}

// dirMover moves bind targets on this host, as the host fast path does (no Sizer).
type dirMover = volumetest.DirMover

// sizedMover is a dirMover that measures volumes itself.
type sizedMover struct {
	dirMover
	sizes map[string]int64
}

func (m sizedMover) Size(_ context.Context, t volume.Target, _ []string) (int64, error) {
	if n, ok := m.sizes[t.VolumeName]; ok {
		return n, nil
	}
	return 0, errors.New("not on this host")
}

func writeFiles(t *testing.T, dir string, files map[string]int) {
	t.Helper()
	for rel, n := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Repeat([]byte{'m'}, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// taskLines are the json task lines of one source, in order.
func taskLines(t *testing.T, buf *bytes.Buffer, task string) []progress.Line {
	t.Helper()
	var out []progress.Line
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var v progress.Line
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		if v.Task == task {
			out = append(out, v)
		}
	}
	if len(out) < 2 {
		t.Fatalf("task %q: %d lines in\n%s", task, len(out), buf)
	}
	return out
}

// A backup's totals are the sources' sizes measured before the copy (excludes left out,
// so the copy ends at exactly 100%), or the sizes the caller measured already; a restore's
// totals are the manifest's bytes, not the size of what the target holds now.
func TestProgressTotals(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeFiles(t, data, map[string]int{"a.bin": 300 << 10, "sub/b.bin": 700 << 10, "cache.tmp": 5 << 20})
	const want = (300 + 700) << 10
	var buf bytes.Buffer
	rep, err := progress.New(progress.JSON, &buf)
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{Engine: &fakeEngine{api: "1.41"}, Mover: dirMover{}, Store: backup.Local(t.TempDir()), Progress: rep}
	p := &project.Project{Project: &types.Project{Name: "demo", WorkingDir: dir}}
	src := project.Source{Name: "./data", Kind: project.KindBindDir, HostPath: data}

	m, err := s.Backup(ctx, p, BackupOptions{Stopped: &project.Running{}, Sources: []project.Source{src}, Excludes: []string{"*.tmp"}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Sources[0].Bytes != want {
		t.Fatalf("archived %d bytes, want %d", m.Sources[0].Bytes, want)
	}
	lines := taskLines(t, &buf, "./data")
	first, last := lines[0], lines[len(lines)-1]
	if first.Total != want || first.Source != "./data" || first.Phase != "backup" {
		t.Errorf("backup start line %+v: want the measured total %d", first, want)
	}
	if last.Status != "done" || last.Bytes != want || last.Total != want || last.ETASeconds == nil || *last.ETASeconds != 0 {
		t.Errorf("backup end line %+v", last)
	}

	// Sizes measured already (an upgrade's plan) are taken as they are.
	buf.Reset()
	if _, err := s.Backup(ctx, p, BackupOptions{Stopped: &project.Running{}, Sources: []project.Source{src}, Excludes: []string{"*.tmp"}, Sizes: map[string]int64{"./data": 12345}}); err != nil {
		t.Fatal(err)
	}
	if first := taskLines(t, &buf, "./data")[0]; first.Total != 12345 {
		t.Errorf("given size not used: %+v", first)
	}

	// Restore into the target, which now holds something else.
	for _, n := range []string{"a.bin", "sub", "cache.tmp"} {
		if err := os.RemoveAll(filepath.Join(data, n)); err != nil {
			t.Fatal(err)
		}
	}
	writeFiles(t, data, map[string]int{"other.bin": 3 << 20})
	entry, err := s.Store.Get(p.Name, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	plan := &RestorePlan{Entry: entry, Items: []RestoreItem{{From: entry.Manifest.Sources[0], To: src}}}
	if _, err := s.RestorePlanned(ctx, plan); err != nil {
		t.Fatal(err)
	}
	// The backup has an index: the restore is differential, its task counts what it
	// rewrote (here everything: the target held other files), and an event says how many.
	lines = taskLines(t, &buf, "restore ./data (differential)")
	if last := lines[len(lines)-1]; last.Status != "done" || last.Bytes != want {
		t.Errorf("differential restore end line %+v: want %d bytes rewritten", last, want)
	}
	if !strings.Contains(buf.String(), "2 of 2 files rewritten") {
		t.Errorf("no event says how many files were rewritten:\n%s", buf.String())
	}

	// Without an index (an older backup), the full restore's total is the manifest's.
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, data, map[string]int{"other.bin": 3 << 20})
	buf.Reset()
	noIndex := entry.Manifest.Sources[0]
	noIndex.Index = nil
	plan = &RestorePlan{Entry: entry, Items: []RestoreItem{{From: noIndex, To: src}}}
	if _, err := s.RestorePlanned(ctx, plan); err != nil {
		t.Fatal(err)
	}
	lines = taskLines(t, &buf, "restore ./data")
	first, last = lines[0], lines[len(lines)-1]
	if first.Total != want || first.Source != "./data" || first.Phase != "restore" {
		t.Errorf("restore start line %+v: want the manifest's %d", first, want)
	}
	if last.Status != "done" || last.Bytes != want || last.Total != want {
		t.Errorf("restore end line %+v", last)
	}
	if rep.Phase() != "" {
		t.Errorf("phase %q left behind", rep.Phase())
	}
}

// Volumes: the Mover's own measure first, the engine's usage data on an API that lists
// volumes alone, unknown otherwise (never a -1 total).
func TestSizesOfVolumes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]int{"cfg/x.toml": 10, "compose.yaml": 7})
	srcs := []project.Source{
		{Name: "fast", Kind: project.KindVolume, VolumeName: "demo_fast"},
		{Name: "df", Kind: project.KindVolume, VolumeName: "demo_df"},
		{Name: "uncomputed", Kind: project.KindVolume, VolumeName: "demo_uncomputed"},
		{Name: "nodata", Kind: project.KindAnonymous, VolumeName: "no-usage-data"},
		{Name: "./cfg", Kind: project.KindBindDir, HostPath: filepath.Join(dir, "cfg")},
		{Name: "file:compose.yaml", Kind: project.KindProjectFile, HostPath: filepath.Join(dir, "compose.yaml")},
		{Name: "./gone", Kind: project.KindBindDir, HostPath: filepath.Join(dir, "gone")},
	}
	eng := &fakeEngine{api: "1.43", volumes: map[string]int64{"demo_fast": 1, "demo_df": 4096, "demo_uncomputed": -1}}
	s := &Service{Engine: eng, Mover: sizedMover{sizes: map[string]int64{"demo_fast": 555}}}
	got := s.Sizes(ctx, srcs, nil)
	want := map[string]int64{"fast": 555, "df": 4096, "uncomputed": Unknown, "nodata": Unknown, "./cfg": 10, "file:compose.yaml": 7, "./gone": Unknown}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %d, want %d", k, got[k], v)
		}
	}
	if eng.diskUsages != 1 {
		t.Errorf("/system/df asked %d times, want once", eng.diskUsages)
	}
	// An engine whose /system/df cannot list volumes alone is not asked.
	old := &fakeEngine{api: "1.41", volumes: eng.volumes}
	s = &Service{Engine: old, Mover: dirMover{}}
	if got := s.Sizes(ctx, srcs[:2], nil); got["df"] != Unknown || old.diskUsages != 0 {
		t.Errorf("API 1.41: %v, %d df calls", got, old.diskUsages)
	}
	// Measured in a helper container last: only what neither the host path nor the engine
	// could tell (one container start each).
	hm := &helperSizedMover{sizes: map[string]int64{"demo_fast": 7, "demo_df": 8, "demo_uncomputed": 9}}
	s = &Service{Engine: old, Mover: hm}
	if got := s.Sizes(ctx, srcs[:3], nil); got["fast"] != 7 || got["df"] != 8 || got["uncomputed"] != 9 || len(hm.asked) != 3 {
		t.Errorf("API 1.41 with a helper: %v, asked %v", got, hm.asked)
	}
	hm.asked = nil
	s = &Service{Engine: &fakeEngine{api: "1.43", volumes: eng.volumes}, Mover: hm}
	if got := s.Sizes(ctx, srcs[:3], nil); got["fast"] != 1 || got["df"] != 4096 || got["uncomputed"] != 9 || strings.Join(hm.asked, ",") != "demo_uncomputed" {
		t.Errorf("API 1.43 with a helper: %v, asked %v (the engine's sizes first)", got, hm.asked)
	}
}

// helperSizedMover measures volumes only in a "helper container" (no host path).
type helperSizedMover struct {
	dirMover
	sizes map[string]int64
	asked []string
}

func (m *helperSizedMover) HelperSize(_ context.Context, t volume.Target, _ []string) (int64, error) {
	m.asked = append(m.asked, t.VolumeName)
	if n, ok := m.sizes[t.VolumeName]; ok {
		return n, nil
	}
	return 0, errors.New("no helper")
}
