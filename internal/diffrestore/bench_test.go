package diffrestore

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/archive"
)

// TestMeasureDiffVsFull (MAIM_DIFF_MB set: a measurement, not a check) times a full
// extraction and a differential restore of the same backup after 1% of its files changed.
func TestMeasureDiffVsFull(t *testing.T) {
	mb, _ := strconv.Atoi(os.Getenv("MAIM_DIFF_MB"))
	if mb <= 0 {
		t.Skip("MAIM_DIFF_MB not set")
	}
	const fileSize = 200 << 10
	n := mb << 20 / fileSize
	root := filepath.Join(t.TempDir(), "data")
	rng := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, fileSize)
	for i := range n {
		for j := range buf {
			buf[j] = byte(rng.Uint32() & 0x3f)
		}
		p := filepath.Join(root, strconv.Itoa(i%50), strconv.Itoa(i)+".bin")
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, buf, 0o644))
	}
	settle()
	idx, file := backup(t, root, archive.Zstd)
	for i := 0; i < n; i += 100 {
		must(t, os.WriteFile(filepath.Join(root, strconv.Itoa(i%50), strconv.Itoa(i)+".bin"), []byte("changed"), 0o644))
	}
	start := time.Now()
	res := restore(t, root, idx, file)
	diff := time.Since(start)
	start = time.Now()
	full(t, file, archive.Zstd)
	whole := time.Since(start)
	fi, _ := os.Stat(file)
	t.Logf("%d MiB, %d files, 1%% changed: differential %v (%s, read %d of %d archive bytes), full extraction %v",
		mb, n, diff, res.Progress(), archiveBytesRead, fi.Size(), whole)
}
