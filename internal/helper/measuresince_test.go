//go:build linux || darwin

package helper

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/fsaccess"
)

// TestMeasureSinceStdin: measure --since-stdin reads a real base index framed on stdin and
// reports what an increment over it can hold: exactly the content of the files changed
// since, as fsaccess.Increment JSON in the {"index"} pieces, and those bytes in the stats.
func TestMeasureSinceStdin(t *testing.T) {
	dir := t.TempDir()
	write := func(rel string, n int) {
		if err := os.WriteFile(filepath.Join(dir, rel), bytes.Repeat([]byte("y"), n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("old.bin", 50000)
	write("kept.bin", 3000)
	// Wait out the index's margin: untouched files must be older than its threshold.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(3*time.Second + 50*time.Millisecond)))
	base := archive.NewIndex()
	if _, err := archive.WriteTar(context.Background(), io.Discard, dir, archive.WriteOptions{Final: base}); err != nil {
		t.Fatal(err)
	}
	write("old.bin", 1234)
	write("new.bin", 99)

	var in, stderr bytes.Buffer
	if err := WriteFramed(&in, base); err != nil {
		t.Fatal(err)
	}
	if code := Run(context.Background(), []string{"measure", "--since-stdin", dir}, &in, io.Discard, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var pieces bytes.Buffer
	var stats *archive.Stats
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		var m Msg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		pieces.Write(m.Index)
		if m.Stats != nil {
			stats = m.Stats
		}
	}
	var inc fsaccess.Increment
	if err := json.Unmarshal(pieces.Bytes(), &inc); err != nil {
		t.Fatalf("the increment %q: %v", pieces.String(), err)
	}
	if want := int64(1234 + 99); !inc.Delta || inc.Bytes != want || inc.Full != want+3000 || stats == nil || stats.Bytes != want {
		t.Fatalf("increment %+v, stats %+v; want %d changed bytes of %d", inc, stats, want, want+3000)
	}
}
