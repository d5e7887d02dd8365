package seektar_test

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzSeekTable: an archive whose seek table (its entries, frame count and descriptor) and
// entry table body are the fuzzer's, put after the frames of a real archive: whatever
// they say, opening it and reading every entry it lists ends in data or an error, never a
// panic, a read outside the archive or an allocation its size does not bound (readAll).
func FuzzSeekTable(f *testing.F) {
	s := archiveOf(f, bytes.Repeat([]byte("0123456789abcdefghij\n"), 80000)) // 1.6 MiB: two frames
	var table []byte
	for _, fr := range s.frames {
		table = binary.LittleEndian.AppendUint32(table, fr.c)
		table = binary.LittleEndian.AppendUint32(table, fr.d)
		if s.checks {
			table = binary.LittleEndian.AppendUint32(table, fr.sum)
		}
	}
	desc := byte(0)
	if s.checks {
		desc = 0x80
	}
	f.Add(table, uint32(len(s.frames)), desc, []byte(nil))
	f.Add(table, uint32(len(s.frames)), desc, uv(2, 0, 2, "./", 0, 0, 5, "a.txt", 512, 1024))
	f.Add(table[:len(table)/2], uint32(1), byte(0), []byte(nil))
	f.Fuzz(func(t *testing.T, table []byte, count uint32, desc byte, toc []byte) {
		h := s
		if len(toc) > 0 {
			h = cut(t, s.withTOC(t, toc))
		}
		b := append([]byte{}, h.head...)
		b = binary.LittleEndian.AppendUint32(b, seekMagic)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(table)+9))
		b = append(b, table...)
		b = binary.LittleEndian.AppendUint32(b, count)
		b = append(b, desc)
		b = binary.LittleEndian.AppendUint32(b, footerMagic)
		_ = readAll(t, b)
	})
}
