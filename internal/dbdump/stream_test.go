package dbdump

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

type failAfter struct {
	n   int
	buf bytes.Buffer
}

func (f *failAfter) Write(p []byte) (int, error) {
	if f.buf.Len()+len(p) > f.n {
		return 0, errors.New("disk full")
	}
	return f.buf.Write(p)
}

// TestTee: the archive and the load get the same bytes in the same order (the archive
// through the queue), midway fires once past teeBuffer, and a failed archive write shows
// at Close.
func TestTee(t *testing.T) {
	var arch, load bytes.Buffer
	aw := newAsyncWriter(&arch)
	fired := 0
	tw := &teeWriter{archive: aw, load: &load, midway: func() { fired++ }}
	var want bytes.Buffer
	for i := 0; i < 3000; i++ {
		p := []byte(strings.Repeat(string(rune('a'+i%26)), 1+i%700))
		want.Write(p)
		if _, err := tw.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := aw.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(arch.Bytes(), want.Bytes()) || !bytes.Equal(load.Bytes(), want.Bytes()) {
		t.Errorf("archive %d bytes, load %d, want both the %d written", arch.Len(), load.Len(), want.Len())
	}
	if want.Len() > teeBuffer && fired != 1 {
		t.Errorf("midway fired %d times", fired)
	}
	aw = newAsyncWriter(&failAfter{n: 10})
	_, _ = aw.Write([]byte("0123456789abc"))
	_, _ = aw.Write([]byte("more"))
	if err := aw.Close(); err == nil || err.Error() != "disk full" {
		t.Errorf("Close after a failed write: %v", err)
	}
}
