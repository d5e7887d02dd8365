package volume

import (
	"context"
	crand "crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/docker-maim/docker-maim/internal/helper"
)

// Benchmark data: a generated mixed tree (many small files, a compressible log, an
// incompressible blob) of MAIM_BENCH_MB megabytes (default 256), kept in a host dir and in a
// volume for the whole run.
var (
	benchOnce    sync.Once
	benchDir     string
	benchVol     string
	benchBytes   int64
	benchErr     error
	benchCleanup func()
)

func benchData(b *testing.B) (string, string, int64) {
	b.Helper()
	cli := engine(b)
	m := NewMoverWithOptions(cli, Options{Path: PathHelper, HelperBinary: helperBinary(b)})
	benchOnce.Do(func() {
		mb := 256
		if v, err := strconv.Atoi(os.Getenv("MAIM_BENCH_MB")); err == nil && v > 0 {
			mb = v
		}
		benchDir, benchErr = os.MkdirTemp("", "maim-bench-")
		if benchErr != nil {
			return
		}
		benchVol = "maim-bench-" + randHex(6)
		benchCleanup = func() {
			os.RemoveAll(benchDir)
			_ = exec.Command("docker", "volume", "rm", "-f", benchVol).Run()
		}
		benchBytes, benchErr = genMixed(benchDir, int64(mb)<<20)
		if benchErr != nil {
			return
		}
		pr, pw := io.Pipe()
		go func() {
			_, err := m.Backup(context.Background(), bind(benchDir), pw, BackupOptions{Level: 1})
			pw.CloseWithError(err)
		}()
		_, benchErr = m.Restore(context.Background(), vol(benchVol), pr, RestoreOptions{})
		pr.CloseWithError(io.ErrClosedPipe)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchDir, benchVol, benchBytes
}

// genMixed writes ~size bytes: 20k small files per 800 MB (at least 2000), a compressible log
// (3/8 of the size) and an incompressible blob (the rest).
func genMixed(dir string, size int64) (int64, error) {
	nSmall := int(size / (800 << 20) * 20000)
	if nSmall < 2000 {
		nSmall = 2000
	}
	var total int64
	line := []byte("2026-11-25T22:15:30Z INFO bot: handled message id=123456 chat=group-42 latency=12ms\n")
	for i := 0; i < nSmall; i++ {
		p := filepath.Join(dir, "small", fmt.Sprintf("%03d", i%100), fmt.Sprintf("f%05d.json", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return 0, err
		}
		data := []byte(fmt.Sprintf(`{"id":%d,"name":"item-%d","pad":"%0*d"}`, i, i, 200+i%3000, i))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return 0, err
		}
		total += int64(len(data))
	}
	rest := size - total
	logSize := rest * 3 / 8
	f, err := os.Create(filepath.Join(dir, "app.log"))
	if err != nil {
		return 0, err
	}
	for n := int64(0); n < logSize; n += int64(len(line)) {
		if _, err := f.Write(line); err != nil {
			f.Close()
			return 0, err
		}
		total += int64(len(line))
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	blob := rest - logSize
	f, err = os.Create(filepath.Join(dir, "blob.bin"))
	if err != nil {
		return 0, err
	}
	buf := make([]byte, 1<<20)
	for n := int64(0); n < blob; n += int64(len(buf)) {
		_, _ = crand.Read(buf)
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return 0, err
		}
		total += int64(len(buf))
	}
	return total, f.Close()
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func benchBackup(b *testing.B, p Path) {
	_, v, size := benchData(b)
	m := NewMoverWithOptions(engine(b), Options{Path: p, HelperBinary: helperBinary(b)})
	if got, err := m.PathFor(context.Background()); got != p {
		b.Fatalf("path %q: %v", got, err)
	}
	b.SetBytes(size)
	b.ResetTimer()
	var out countWriter
	for i := 0; i < b.N; i++ {
		out.n = 0
		if _, err := m.Backup(context.Background(), vol(v), &out, BackupOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(out.n)/float64(size), "ratio")
	if p == PathHelper {
		b.ReportMetric(float64(lastHelperMaxRSS.Load())/1024, "helper-MiB-peak")
	}
	b.ReportMetric(float64(helper.PeakRSSKiB())/1024, "host-MiB-peak")
}

// BenchmarkBackupHelper backs up the generated volume through the helper container.
func BenchmarkBackupHelper(b *testing.B) { benchBackup(b, PathHelper) }

// BenchmarkBackupArchiveAPI backs it up through the engine's archive API.
func BenchmarkBackupArchiveAPI(b *testing.B) { benchBackup(b, PathArchive) }

// BenchmarkHostTarZstd is the reference: `tar -cf - . | zstd -T0 -1` on the same data in a
// host directory (skipped without tar and zstd).
func BenchmarkHostTarZstd(b *testing.B) {
	dir, _, size := benchData(b)
	if _, err := exec.LookPath("zstd"); err != nil {
		b.Skip("zstd not installed")
	}
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd := exec.Command("sh", "-c", `tar -C "$1" -cf - . | zstd -q -T0 -1 > /dev/null`, "sh", dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
	}
}

// BenchmarkRestoreHelper restores a backup of the generated data into a volume.
func BenchmarkRestoreHelper(b *testing.B) {
	dir, _, size := benchData(b)
	m := NewMoverWithOptions(engine(b), Options{Path: PathHelper, HelperBinary: helperBinary(b)})
	f, err := os.CreateTemp("", "maim-bench-*.tar.zst")
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := m.Backup(context.Background(), bind(dir), f, BackupOptions{}); err != nil {
		b.Fatal(err)
	}
	v := newVolume(b)
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			b.Fatal(err)
		}
		if _, err := m.Restore(context.Background(), vol(v), f, RestoreOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
