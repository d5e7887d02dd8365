package zstdpar

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// zdata returns n bytes, half text-like and half random, so that chunks see both kinds.
func zdata(n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		if (i/1000)%2 == 0 {
			b[i] = "abcdefgh \n"[rng.IntN(10)]
		} else {
			b[i] = byte(rng.Uint32())
		}
	}
	return b
}

// writeInPieces writes b to w in pieces of varying size, as tar does.
func writeInPieces(t *testing.T, w io.Writer, b []byte) {
	t.Helper()
	sizes := []int{1, 511, 512, 4096, 70000, 3}
	for i := 0; len(b) > 0; i++ {
		n := min(sizes[i%len(sizes)], len(b))
		if m, err := w.Write(b[:n]); err != nil || m != n {
			t.Fatalf("write %d: wrote %d, %v", n, m, err)
		}
		b = b[n:]
	}
}

func TestParallelZstdRoundTrip(t *testing.T) {
	const chunk = 64 << 10
	_, zerr := exec.LookPath("zstd")
	for _, workers := range []int{2, 3, 8} {
		for _, n := range []int{0, 1, chunk - 1, chunk, chunk + 1, 5*chunk + 123} {
			data := zdata(n, uint64(n))
			var out bytes.Buffer
			pz, err := newParallelZstd(&out, zstd.SpeedFastest, workers, chunk)
			if err != nil {
				t.Fatal(err)
			}
			writeInPieces(t, pz, data)
			if err := pz.Close(); err != nil {
				t.Fatalf("workers=%d n=%d: close: %v", workers, n, err)
			}
			if err := pz.Close(); err != nil {
				t.Fatalf("second close: %v", err)
			}
			// One frame per chunk (an empty stream still has one frame).
			frames := countFrames(t, out.Bytes())
			if want := max(1, (n+chunk-1)/chunk); frames != want {
				t.Errorf("workers=%d n=%d: %d frames, want %d", workers, n, frames, want)
			}
			r, err := zstd.NewReader(bytes.NewReader(out.Bytes()), zstd.WithDecoderMaxWindow(1<<30))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("workers=%d n=%d: the zstd decoder gave %d bytes (err %v), want %d equal bytes", workers, n, len(got), err, n)
			}
			if zerr == nil {
				cmd := exec.Command("zstd", "-dc")
				cmd.Stdin = bytes.NewReader(out.Bytes())
				got, err := cmd.Output()
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("workers=%d n=%d: zstd -dc gave %d bytes (err %v), want %d equal bytes", workers, n, len(got), err, n)
				}
			}
		}
	}
}

// countFrames walks the frames of a zstd stream by decoding each frame header, and counts
// the compressed ones (skippable frames, the seek table's, are walked over, not counted).
func countFrames(t *testing.T, b []byte) int {
	t.Helper()
	frames := 0
	for len(b) > 0 {
		if len(b) >= 8 && binary.LittleEndian.Uint32(b)&0xFFFFFFF0 == 0x184D2A50 {
			b = b[8+int(binary.LittleEndian.Uint32(b[4:])):]
			continue
		}
		b = b[frameLen(t, b):]
		frames++
	}
	return frames
}

// frameLen returns the byte length of the first frame in b: header, blocks, checksum.
func frameLen(t *testing.T, b []byte) int {
	t.Helper()
	var h zstd.Header
	if err := h.Decode(b); err != nil {
		t.Fatal(err)
	}
	pos := h.HeaderSize
	for {
		if pos+3 > len(b) {
			t.Fatalf("truncated block header at %d", pos)
		}
		bh := uint32(b[pos]) | uint32(b[pos+1])<<8 | uint32(b[pos+2])<<16
		last := bh&1 == 1
		typ := (bh >> 1) & 3
		size := int(bh >> 3)
		pos += 3
		if typ == 1 { // RLE: one byte of content
			size = 1
		}
		pos += size
		if last {
			break
		}
	}
	if h.HasCheckSum {
		pos += 4
	}
	return pos
}

// failAfter accepts n bytes, then fails every write.
type failAfter struct{ n int }

var errDiskFull = errors.New("no space left on device")

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		w := f.n
		f.n = 0
		return w, errDiskFull
	}
	f.n -= len(p)
	return len(p), nil
}

func TestParallelZstdWriteError(t *testing.T) {
	const chunk = 64 << 10
	for _, limit := range []int{0, 100, 3 * chunk} {
		done := make(chan error, 1)
		go func() {
			pz, err := newParallelZstd(&failAfter{n: limit}, zstd.SpeedFastest, 2, chunk)
			if err != nil {
				done <- err
				return
			}
			data := zdata(40*chunk, 1)
			var werr error
			for len(data) > 0 && werr == nil {
				n := min(len(data), 10000)
				_, werr = pz.Write(data[:n])
				data = data[n:]
			}
			cerr := pz.Close()
			if werr != nil && !errors.Is(werr, errDiskFull) {
				done <- werr
				return
			}
			done <- cerr
		}()
		select {
		case err := <-done:
			if !errors.Is(err, errDiskFull) {
				t.Errorf("limit %d: got %v, want the writer's error", limit, err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("limit %d: Write/Close blocked after a write error", limit)
		}
	}
}

// TestParallelZstdBoundedMemory: the memory allocated does not grow with the input; every
// buffer is allocated once.
func TestParallelZstdBoundedMemory(t *testing.T) {
	alloc := func(n int) uint64 {
		data := zdata(1<<20, 3)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		pz, err := newParallelZstd(io.Discard, zstd.SpeedFastest, 2, zstdChunkSize)
		if err != nil {
			t.Fatal(err)
		}
		for range n {
			if _, err := pz.Write(data); err != nil {
				t.Fatal(err)
			}
		}
		if err := pz.Close(); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	small, large := alloc(16), alloc(256) // 16 MiB and 256 MiB of input
	t.Logf("allocated: %d KiB for 16 MiB, %d KiB for 256 MiB", small>>10, large>>10)
	if large > small+small/2 {
		t.Errorf("allocation grows with the input: %d KiB for 16 MiB, %d KiB for 256 MiB", small>>10, large>>10)
	}
	if large > 32<<20 {
		t.Errorf("allocated %d MiB, want a fixed set well under 32 MiB", large>>20)
	}
}

// NewWriter compresses in frames of zstdChunkSize whatever its workers; it reads back as the
// input.
func TestNewWriter(t *testing.T) {
	data := zdata(3*zstdChunkSize+17, 3)
	for workers, frames := range map[int]int{0: 4, 1: 4, 2: 4, 4: 4} {
		var out bytes.Buffer
		w, err := NewWriter(&out, zstd.SpeedFastest, workers)
		if err != nil {
			t.Fatal(err)
		}
		writeInPieces(t, w, data)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got := countFrames(t, out.Bytes()); got != frames {
			t.Errorf("workers=%d: %d frames, want %d", workers, got, frames)
		}
		dec, err := zstd.NewReader(bytes.NewReader(out.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(dec)
		dec.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("workers=%d: read back %d bytes, %v; want the %d written", workers, len(got), err, len(data))
		}
	}
}
