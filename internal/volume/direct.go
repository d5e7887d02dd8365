package volume

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/mount"
)

// EnvHelperStream, set to "1" (any value but "" and "0"), makes the helper container stream
// the archive through the engine's attach stream even when the backup dir is visible to the
// engine (tests and scripts/bench.sh compare the two).
const EnvHelperStream = "MAIM_HELPER_STREAM"

// LocalSink is a backup destination that is a file in a directory of this host
// (backup.Archive of a local repository): the helper container may fill that file itself,
// with the directory bind-mounted, and then reports what it wrote to WroteLocal.
type LocalSink interface {
	io.Writer
	LocalPath() (string, bool)
	WroteLocal(sha256 string, size int64) error
}

// backupDirMount is where a helper sees the backup dir bind-mounted.
const backupDirMount = "/maim-backup"

// errNotVisible says the helper container does not see the backup dir this host sees: the
// archive then goes through the attach stream.
type errNotVisible struct{ msg string }

func (e *errNotVisible) Error() string { return e.msg }

// short is the reason without the engine's details, for the data path.
func (e *errNotVisible) short() string { s, _, _ := strings.Cut(e.msg, " ("); return s }

const notVisibleMsg = "the backup dir is not visible to the engine"

// directBlocked says why the helper may not even try the backup dir directly: "" when it may.
// The engine must be local (a unix socket or a Windows named pipe: ssh and tcp engines run
// elsewhere); whether it sees the dir is then checked by the run itself (a marker file).
func (m *EngineMover) directBlocked(dir string) string {
	if v := os.Getenv(EnvHelperStream); v != "" && v != "0" {
		return EnvHelperStream + "=" + v
	}
	host := m.cli.DaemonHost()
	if !strings.HasPrefix(host, "unix://") && !strings.HasPrefix(host, "npipe://") {
		return "engine " + host + " is not local"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if why, ok := m.notVisible[dir]; ok {
		return why
	}
	return ""
}

func (m *EngineMover) markNotVisible(dir, why string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.notVisible == nil {
		m.notVisible = map[string]string{}
	}
	m.notVisible[dir] = why
}

// localSource is the file a restore reads, when it is an unread regular file of this host.
func localSource(r io.Reader) (string, int64, bool) {
	f, ok := r.(*os.File)
	if !ok {
		return "", 0, false
	}
	if pos, err := f.Seek(0, io.SeekCurrent); err != nil || pos != 0 {
		return "", 0, false
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return "", 0, false
	}
	p, err := filepath.Abs(f.Name())
	if err != nil {
		return "", 0, false
	}
	return p, fi.Size(), true
}

// runDirect runs h with the directory of file bind-mounted at backupDirMount (read-only for
// a restore) and a marker file the helper checks first, adding the flags that name file
// (flag: --out or --in) before the last argument (the target path). An *errNotVisible means
// nothing was touched and the stream should be used. desc is recorded as the data path once
// the helper has passed the marker check (its first progress line, or its result).
func (m *EngineMover) runDirect(ctx context.Context, h helperRun, file, flag string, readOnly bool, desc string) (helperResult, error) {
	return m.runDirectIn(ctx, h, filepath.Dir(file), filepath.Base(file), flag, readOnly, desc)
}

// runDirectIn is runDirect with dir the directory mounted and base the file's path below
// it (slash separated; a file in a subdirectory of dir too).
func (m *EngineMover) runDirectIn(ctx context.Context, h helperRun, dir, base, flag string, readOnly bool, desc string) (helperResult, error) {
	dir = filepath.Clean(dir)
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return helperResult{}, err
	}
	token := hex.EncodeToString(tok)
	marker := ".maim-visible-" + token[:12]
	mp := filepath.Join(dir, marker)
	if err := os.WriteFile(mp, []byte(token), 0o600); err != nil {
		return helperResult{}, &errNotVisible{"no marker file can be written into the backup dir (" + err.Error() + ")"}
	}
	defer os.Remove(mp)

	last := h.args[len(h.args)-1]
	args := append([]string(nil), h.args[:len(h.args)-1]...)
	args = append(args, "--marker", path.Join(backupDirMount, marker), "--token", token,
		"--"+flag, path.Join(backupDirMount, base), last)
	h.args = args
	h.mounts = append(append([]mount.Mount(nil), h.mounts...),
		mount.Mount{Type: mount.TypeBind, Source: directSource(dir), Target: backupDirMount, ReadOnly: readOnly})
	h.direct = true
	var res helperResult
	h.result = &res
	progress, seen := h.progress, false
	h.progress = func(n int64) {
		if !seen {
			seen = true
			m.record(desc)
		}
		if progress != nil {
			progress(n)
		}
	}
	_, err := m.runWithHelperImage(ctx, h)
	var nv *errNotVisible
	if errors.As(err, &nv) {
		m.markNotVisible(dir, nv.short())
	} else if !seen {
		m.record(desc)
	}
	return res, err
}

// directSource is the directory the engine mounts for dir (tests: another one, as an engine
// that does not see this host's files would).
var directSource = func(dir string) string { return dir }

// streamDesc is the data path of a helper streaming through the engine, with the reason.
func (m *EngineMover) streamDesc(why string) string {
	d := m.describe(PathHelper, nil) + " via attach stream"
	if why != "" {
		d += " (" + why + ")"
	}
	return d
}

// addStreamed adds one streamed transfer to the speed DataPath reports for desc.
func (m *EngineMover) addStreamed(desc string, n int64, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.streamed == nil {
		m.streamed = map[string]*meter{}
	}
	s := m.streamed[desc]
	if s == nil {
		s = &meter{}
		m.streamed[desc] = s
	}
	s.bytes += n
	s.dur += d
}

type meter struct {
	bytes int64
	dur   time.Duration
}

func (s *meter) String() string {
	if s.dur <= 0 {
		return ""
	}
	return ", " + units.HumanSize(float64(s.bytes)/s.dur.Seconds()) + "/s" // docker's sizes (go-units)
}
