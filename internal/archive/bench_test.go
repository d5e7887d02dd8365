package archive

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// benchTree is a generated mixed tree: many small files, a large
// compressible log and an incompressible blob (the shape of `make bench`,
// scaled by MAIM_BENCH_MB, default 128 MiB).
var benchTree struct {
	once  sync.Once
	dir   string
	bytes int64
	err   error
}

func benchData(b *testing.B) (string, int64) {
	b.Helper()
	benchTree.once.Do(func() {
		mb := 128
		if s := os.Getenv("MAIM_BENCH_MB"); s != "" {
			fmt.Sscan(s, &mb)
		}
		dir, err := os.MkdirTemp("", "maim-bench-")
		if err != nil {
			benchTree.err = err
			return
		}
		benchTree.dir = dir
		benchTree.bytes, benchTree.err = genTree(dir, int64(mb)<<20)
	})
	if benchTree.err != nil {
		b.Fatal(benchTree.err)
	}
	return benchTree.dir, benchTree.bytes
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchTree.dir != "" {
		os.RemoveAll(benchTree.dir)
	}
	if restoreTree.dir != "" {
		os.RemoveAll(restoreTree.dir)
	}
	os.Exit(code)
}

// genTree writes about size bytes: 10% as small files (1-16 KiB of text in
// 100 directories), 50% a text log, 40% random bytes.
func genTree(dir string, size int64) (int64, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"INFO", "WARN", "message", "user", "chat", "reply", "token", "2026-11-25T22:15:30Z", "group", "plugin"}
	line := func(buf *bytes.Buffer) {
		for i := 0; i < 12; i++ {
			buf.WriteString(words[rng.IntN(len(words))])
			buf.WriteByte(' ')
		}
		fmt.Fprintf(buf, "%d\n", rng.Int64())
	}
	var total int64
	var buf bytes.Buffer
	for i := 0; total < size/10; i++ {
		buf.Reset()
		n := 1024 + rng.IntN(15*1024)
		for buf.Len() < n {
			line(&buf)
		}
		p := filepath.Join(dir, "small", fmt.Sprintf("d%02d", i%100), fmt.Sprintf("f%05d.txt", i))
		if i < 100 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return 0, err
			}
		}
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			return 0, err
		}
		total += int64(buf.Len())
	}
	write := func(name string, n int64, fill func(*bytes.Buffer)) error {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		defer f.Close()
		for w := int64(0); w < n; {
			buf.Reset()
			fill(&buf)
			if _, err := f.Write(buf.Bytes()); err != nil {
				return err
			}
			w += int64(buf.Len())
			total += int64(buf.Len())
		}
		return nil
	}
	if err := write("app.log", size/2, func(b *bytes.Buffer) {
		for b.Len() < 1<<20 {
			line(b)
		}
	}); err != nil {
		return 0, err
	}
	blob := make([]byte, 1<<20)
	err := write("blob.bin", size*4/10, func(b *bytes.Buffer) {
		for i := 0; i < len(blob); i += 8 {
			v := rng.Uint64()
			for j := 0; j < 8; j++ {
				blob[i+j] = byte(v >> (8 * j))
			}
		}
		b.Write(blob)
	})
	return total, err
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func benchWrite(b *testing.B, c Compression) {
	dir, size := benchData(b)
	b.SetBytes(size)
	b.ResetTimer()
	var out int64
	for b.Loop() {
		cw := &countWriter{}
		w, err := Compress(cw, c, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := WriteTar(context.Background(), w, dir, WriteOptions{}); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		out = cw.n
	}
	b.ReportMetric(float64(out)/float64(size), "ratio")
}

func BenchmarkWriteTarZstd(b *testing.B) { benchWrite(b, Zstd) }
func BenchmarkWriteTarGzip(b *testing.B) { benchWrite(b, Gzip) }
func BenchmarkWriteTarNone(b *testing.B) { benchWrite(b, None) }

// BenchmarkSystemTarZstd is the reference: `tar -cf - . | zstd -T0 -1`.
func BenchmarkSystemTarZstd(b *testing.B) {
	if _, err := exec.LookPath("zstd"); err != nil {
		b.Skip("no zstd")
	}
	dir, size := benchData(b)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		cmd := exec.Command("sh", "-c", "tar -C \"$1\" -cf - . | zstd -T0 -1 -q -c > /dev/null", "sh", dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
	}
}

func packed(b *testing.B, c Compression) ([]byte, int64) {
	dir, size := benchData(b)
	var buf bytes.Buffer
	w, _ := Compress(&buf, c, 0)
	if _, err := WriteTar(context.Background(), w, dir, WriteOptions{}); err != nil {
		b.Fatal(err)
	}
	w.Close()
	return buf.Bytes(), size
}

func BenchmarkScanZstd(b *testing.B) {
	data, size := packed(b, Zstd)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		r, _ := Decompress(bytes.NewReader(data), Zstd)
		if _, err := Scan(r); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}

func BenchmarkExtractZstd(b *testing.B) {
	data, size := packed(b, Zstd)
	dest := b.TempDir()
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		// Into an existing copy (the restore case): every file is replaced.
		r, _ := Decompress(bytes.NewReader(data), Zstd)
		if _, err := Extract(context.Background(), r, dest, ExtractOptions{}); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}

var _ = io.Discard

// The restore benchmarks: a tree shaped like the `make bench` volume, scaled down (MAIM_RESTORE_MB,
// default 200 MB, with MAIM_RESTORE_FILES small files, default 20000: about half the bytes in
// small files of 1-9 KiB in 100x10 directories, the rest a text log and random bytes), archived
// once with Compress+WriteTar into a file; every run extracts it into an emptied directory, as
// `docker maim restore` does into an emptied volume. BenchmarkRestoreHost is the reference,
// `zstd -dc F | tar -xf -`, and BenchmarkRestoreHostSync the same followed by `sync -f` (Extract
// ends with syncfs: a restore replaces the only other copy of the data). Each reports its
// peak RSS (VmHWM of this process for Extract, reset before each run; ru_maxrss of the pipeline
// for the host) as peak-MiB. MAIM_RESTORE_DIR puts the archive and the destination on another
// file system (default: the temp dir).
var restoreTree struct {
	once    sync.Once
	dir     string
	archive string
	bytes   int64
	files   int64
	err     error
}
