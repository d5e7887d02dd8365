package zstdpar

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	seekable "github.com/SaveTheRbtz/zstd-seekable-format-go/pkg"
	"github.com/klauspost/compress/zstd"
)

// TestSeekable: the stream ends with a seek table in zstd's seekable format that
// zstd-seekable-format-go's Reader reads: one entry per frame, and any range read through it
// (decompressing only its frames) equals the input. The caller's trailer is a skippable frame
// right before the table. The zstd decoder and the zstd command line still read the stream
// as the input alone.
func TestSeekable(t *testing.T) {
	const chunk = 64 << 10
	for _, n := range []int{0, 1, chunk, 7*chunk + 5} {
		data := zdata(n, uint64(n)+1)
		var out bytes.Buffer
		pz, err := newParallelZstd(&out, zstd.SpeedFastest, 2, chunk)
		if err != nil {
			t.Fatal(err)
		}
		writeInPieces(t, pz, data)
		pz.SetTrailer([]byte("entry table"))
		if err := pz.Close(); err != nil {
			t.Fatal(err)
		}
		b := out.Bytes()
		dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		r, err := seekable.NewReader(bytes.NewReader(b), dec)
		if err != nil {
			t.Fatalf("n=%d: seekable reader: %v", n, err)
		}
		table, _ := r.SeekTable()
		if want := int64((n + chunk - 1) / chunk); table.NumFrames() != want || table.Size() != uint64(n) {
			t.Fatalf("n=%d: seek table of %d frames for %d bytes, want %d frames", n, table.NumFrames(), table.Size(), want)
		}
		rng := rand.New(rand.NewPCG(uint64(n), 3))
		for range 20 {
			if n == 0 {
				break
			}
			off := rng.IntN(n)
			l := min(rng.IntN(3*chunk), n-off)
			got := make([]byte, l)
			if _, err := r.ReadAt(got, int64(off)); err != nil && err != io.EOF {
				t.Fatalf("n=%d: ReadAt(%d, %d): %v", n, off, l, err)
			}
			if !bytes.Equal(got, data[off:off+l]) {
				t.Fatalf("n=%d: ReadAt(%d, %d) differs from the input", n, off, l)
			}
		}
		// The trailer frame ends where the seek table begins.
		tableLen := 8 + int(table.NumFrames())*12 + 9
		end := len(b) - tableLen
		tr := b[end-8-len("entry table") : end]
		if binary.LittleEndian.Uint32(tr) != TrailerMagic || string(tr[8:]) != "entry table" {
			t.Fatalf("n=%d: no trailer frame before the seek table: %q", n, tr)
		}
		dec.Close()
		sd, _ := zstd.NewReader(bytes.NewReader(b))
		got, err := io.ReadAll(sd)
		sd.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("n=%d: the stream decoder read %d bytes, %v", n, len(got), err)
		}
		if _, err := exec.LookPath("zstd"); err == nil {
			f := filepath.Join(t.TempDir(), "a.zst")
			if err := os.WriteFile(f, b, 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := exec.Command("zstd", "-dc", f).Output()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("n=%d: zstd -dc read %d bytes, %v", n, len(got), err)
			}
		}
	}
}
