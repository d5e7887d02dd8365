//go:build linux || darwin

package archive

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

func restoreData(b *testing.B) (string, int64) {
	b.Helper()
	restoreTree.once.Do(func() {
		mb, files := 200, 20000
		if s := os.Getenv("MAIM_RESTORE_MB"); s != "" {
			fmt.Sscan(s, &mb)
		}
		if s := os.Getenv("MAIM_RESTORE_FILES"); s != "" {
			fmt.Sscan(s, &files)
		}
		dir, err := os.MkdirTemp(os.Getenv("MAIM_RESTORE_DIR"), "maim-restore-")
		if err != nil {
			restoreTree.err = err
			return
		}
		restoreTree.dir = dir
		src := filepath.Join(dir, "src")
		restoreTree.bytes, restoreTree.files, restoreTree.err = genRestoreTree(src, int64(mb)*1e6, files)
		if restoreTree.err != nil {
			return
		}
		restoreTree.archive = filepath.Join(dir, "src.tar.zst")
		f, err := os.Create(restoreTree.archive)
		if err != nil {
			restoreTree.err = err
			return
		}
		defer f.Close()
		w, _ := Compress(f, Zstd, 0)
		if _, err := WriteTar(context.Background(), w, src, WriteOptions{}); err != nil {
			restoreTree.err = err
			return
		}
		if restoreTree.err = w.Close(); restoreTree.err == nil {
			restoreTree.err = os.RemoveAll(src)
		}
	})
	if restoreTree.err != nil {
		b.Fatal(restoreTree.err)
	}
	return restoreTree.archive, restoreTree.bytes
}

func genRestoreTree(dir string, size int64, files int) (total, n int64, err error) {
	rng := rand.New(rand.NewPCG(3, 4))
	var buf bytes.Buffer
	text := func(b *bytes.Buffer, n int) {
		for b.Len() < n {
			fmt.Fprintf(b, "%d INFO [chat] reply to user %d in group %d token=%x\n", rng.Int64N(1e12), rng.IntN(5000), rng.IntN(300), rng.Uint64())
		}
	}
	for i := range files {
		buf.Reset()
		text(&buf, 1024+rng.IntN(8*1024))
		p := filepath.Join(dir, "small", fmt.Sprintf("d%02d", i%100), fmt.Sprintf("s%d", (i/100)%10), fmt.Sprintf("f%05d.json", i))
		if i < 1000 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return 0, 0, err
			}
		}
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			return 0, 0, err
		}
		total += int64(buf.Len())
		n++
	}
	big := func(name string, size int64, fill func(b *bytes.Buffer)) error {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		defer f.Close()
		for w := int64(0); w < size; {
			buf.Reset()
			fill(&buf)
			if _, err := f.Write(buf.Bytes()); err != nil {
				return err
			}
			w += int64(buf.Len())
			total += int64(buf.Len())
		}
		n++
		return nil
	}
	rest := max(size-total, 2<<20)
	if err := big("app.log", rest*6/10, func(b *bytes.Buffer) { text(b, 1<<20) }); err != nil {
		return 0, 0, err
	}
	blob := make([]byte, 1<<20)
	err = big("blob.bin", rest*4/10, func(b *bytes.Buffer) {
		for i := 0; i < len(blob); i += 8 {
			v := rng.Uint64()
			for j := range 8 {
				blob[i+j] = byte(v >> (8 * j))
			}
		}
		b.Write(blob)
	})
	return total, n, err
}

// emptyDest empties dest (kept) and flushes the page cache's dirty pages, untimed.
func emptyDest(b *testing.B, dest string) {
	b.StopTimer()
	names, _ := os.ReadDir(dest)
	for _, e := range names {
		if err := os.RemoveAll(filepath.Join(dest, e.Name())); err != nil {
			b.Fatal(err)
		}
	}
	exec.Command("sync").Run()
	b.StartTimer()
}

// vmHWM returns this process's peak RSS in KiB (0 where /proc has none); resetHWM resets it.
func vmHWM() int64 {
	s, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(s), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kib int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kib)
			return kib
		}
	}
	return 0
}

func resetHWM() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

func BenchmarkRestore(b *testing.B) {
	archive, size := restoreData(b)
	dest := filepath.Join(restoreTree.dir, "dest")
	b.SetBytes(size)
	var peak int64
	for b.Loop() {
		emptyDest(b, dest)
		runtime.GC()
		resetHWM()
		f, err := os.Open(archive)
		if err != nil {
			b.Fatal(err)
		}
		r, _ := Decompress(f, Zstd)
		st, err := Extract(context.Background(), r, dest, ExtractOptions{})
		r.Close()
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		if st.Bytes != size {
			b.Fatalf("extracted %d bytes, want %d", st.Bytes, size)
		}
		peak = max(peak, vmHWM())
	}
	b.ReportMetric(float64(peak)/1024, "peak-MiB")
	b.ReportMetric(float64(restoreTree.files), "files")
}

// BenchmarkRestoreSerial is Extract without its writer pool: every file written by the reading
// goroutine, as before the pool (the "before" figure, measured in the same run).
func BenchmarkRestoreSerial(b *testing.B) {
	poolMaxFileBytes = -1
	defer func() { poolMaxFileBytes = poolMaxFile }()
	BenchmarkRestore(b)
}

func benchRestoreHost(b *testing.B, script string) {
	for _, tool := range []string{"zstd", "tar", "sync"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skip("no " + tool)
		}
	}
	archive, size := restoreData(b)
	dest := filepath.Join(restoreTree.dir, "dest")
	os.MkdirAll(dest, 0o755)
	b.SetBytes(size)
	var peak int64
	for b.Loop() {
		emptyDest(b, dest)
		cmd := exec.Command("sh", "-c", script, "sh", archive, dest)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			peak = max(peak, int64(ru.Maxrss))
		}
	}
	b.ReportMetric(float64(peak)/1024, "peak-MiB")
}

func BenchmarkRestoreHost(b *testing.B) {
	benchRestoreHost(b, `zstd -q -dc "$1" | tar -C "$2" -xf -`)
}

func BenchmarkRestoreHostSync(b *testing.B) {
	benchRestoreHost(b, `zstd -q -dc "$1" | tar -C "$2" -xf - && sync -f "$2"`)
}
