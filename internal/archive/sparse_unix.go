//go:build linux || darwin

package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker-maim/docker-maim/internal/fsaccess"
)

// Sparse files.
//
// A regular file with holes (fewer blocks allocated than its size needs, and extents the file
// system reports through SEEK_DATA/SEEK_HOLE) is archived in the GNU sparse format 1.0 of PAX,
// the one `tar --sparse --format=pax` writes and GNU tar, bsdtar and Go's archive/tar read: a
// PAX header with GNU.sparse.major=1, GNU.sparse.minor=0, GNU.sparse.name (the real name) and
// GNU.sparse.realsize, a ustar header named GNUSparseFile.0/<base> whose content is the
// extent map (decimal, a line each: the count, then offset and length of each extent, padded to
// a block) followed by the extents' bytes. The holes are not in the archive.
//
// Extract writes an entry marked sparse with holes: every block-aligned run of
// sparseBlock zero bytes is skipped (seek), the size set at the end. The holes of the source
// are such runs, so the restored file has at most the source's allocated blocks and the same
// bytes; a run of zeros the source had allocated inside an extent becomes a hole too. Entries
// not marked sparse are written whole, as they were.

// sparseBlock is the granularity of the holes Extract writes.
const sparseBlock = 4096

var zeroBlock [sparseBlock]byte

// isSparse says whether h is a GNU sparse entry (any PAX variant).
func isSparse(h *tar.Header) bool {
	for _, k := range []string{"GNU.sparse.major", "GNU.sparse.map", "GNU.sparse.size", "GNU.sparse.numblocks"} {
		if _, ok := h.PAXRecords[k]; ok {
			return true
		}
	}
	return false
}

// paxRecord formats one PAX record ("%d %s=%s\n", the length counting itself).
func paxRecord(k, v string) string {
	n := len(k) + len(v) + 3
	l := len(strconv.Itoa(n))
	if len(strconv.Itoa(n+l)) > l {
		l++
	}
	return strconv.Itoa(n+l) + " " + k + "=" + v + "\n"
}

// ustarBlock formats a ustar header block; fields that do not fit are left 0 (the PAX
// header carries them).
func ustarBlock(name string, mode, uid, gid, size, mtime int64, typ byte) []byte {
	b := make([]byte, 512)
	copy(b[0:100], name)
	octal := func(dst []byte, v int64) {
		if v < 0 || len(strconv.FormatInt(v, 8)) > len(dst)-1 {
			v = 0
		}
		s := fmt.Sprintf("%0*o", len(dst)-1, v)
		copy(dst, s)
		dst[len(dst)-1] = 0
	}
	octal(b[100:108], mode)
	octal(b[108:116], uid)
	octal(b[116:124], gid)
	octal(b[124:136], size)
	octal(b[136:148], mtime)
	b[156] = typ
	copy(b[257:263], "ustar\x00")
	copy(b[263:265], "00")
	copy(b[148:156], "        ")
	var sum int64
	for _, c := range b {
		sum += int64(c)
	}
	copy(b[148:155], fmt.Sprintf("%06o\x00", sum))
	b[155] = ' '
	return b
}

// fits says whether v fits a ustar numeric field of width w.
func fits(v int64, w int) bool { return v >= 0 && len(strconv.FormatInt(v, 8)) <= w-1 }

// sparseHeader writes the PAX and ustar headers of the sparse entry h (h.Size the real size)
// whose stored content (map and extents) is stored bytes long.
func (t *tarWriter) sparseHeader(h *tar.Header, stored int64) error {
	recs := map[string]string{
		"GNU.sparse.major":    "1",
		"GNU.sparse.minor":    "0",
		"GNU.sparse.name":     h.Name,
		"GNU.sparse.realsize": strconv.FormatInt(h.Size, 10),
		"mtime":               paxTime(h.ModTime),
	}
	for k, v := range h.PAXRecords {
		recs[k] = v
	}
	if !fits(int64(h.Uid), 8) {
		recs["uid"] = strconv.Itoa(h.Uid)
	}
	if !fits(int64(h.Gid), 8) {
		recs["gid"] = strconv.Itoa(h.Gid)
	}
	if !fits(stored, 12) {
		recs["size"] = strconv.FormatInt(stored, 10)
	}
	keys := make([]string, 0, len(recs))
	for k := range recs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		sb.WriteString(paxRecord(k, recs[k]))
	}
	dir, base := path.Split(strings.TrimSuffix(h.Name, "/"))
	name := path.Join(dir, "GNUSparseFile.0", base)
	if len(name) > 100 {
		name = ("GNUSparseFile.0/" + base)[:100]
	}
	pname := path.Join(dir, "PaxHeaders.0", base)
	if len(pname) > 100 {
		pname = ("PaxHeaders.0/" + base)[:100]
	}
	var out bytes.Buffer
	out.Write(ustarBlock(pname, 0o644, 0, 0, int64(sb.Len()), h.ModTime.Unix(), tar.TypeXHeader))
	out.WriteString(sb.String())
	out.Write(zeroBlock[:pad512(int64(sb.Len()))])
	out.Write(ustarBlock(name, h.Mode, int64(h.Uid), int64(h.Gid), stored, h.ModTime.Unix(), tar.TypeReg))
	if err := t.mark(h.Name); err != nil {
		return err
	}
	_, err := t.raw.Write(out.Bytes())
	return err
}

// paxTime formats t as a PAX time record: seconds since the epoch with nanoseconds, the
// fraction counted away from zero for times before 1970 ("-1.5" is 1.5 s before).
func paxTime(t time.Time) string {
	sec, nsec := t.Unix(), int64(t.Nanosecond())
	sign := ""
	if sec < 0 && nsec > 0 {
		sign, sec, nsec = "-", -(sec + 1), 1e9-nsec
	} else if sec < 0 {
		sign, sec = "-", -sec
	}
	return sign + strconv.FormatInt(sec, 10) + "." + fmt.Sprintf("%09d", nsec)
}

func pad512(n int64) int64 { return (512 - n%512) % 512 }

// sparseRegular writes the regular file f (header h, h.Size its size) as a sparse entry when
// the file system reports holes in it; done is false when it has none.
func (t *tarWriter) sparseRegular(f *os.File, full string, h *tar.Header, blocks int64) (done bool, err error) {
	if h.Size == 0 || blocks*512 >= h.Size {
		return false, nil // every byte allocated: no hole
	}
	ext, err := fsaccess.DataMap(int(f.Fd()), h.Size)
	if err != nil {
		return false, &os.PathError{Op: "lseek", Path: full, Err: err}
	}
	if ext == nil {
		return false, nil
	}
	if last := ext[len(ext)-1:]; len(last) == 0 || last[0].Off+last[0].N < h.Size {
		ext = append(ext, fsaccess.Extent{Off: h.Size}) // the map ends at the real size
	}
	var m []byte
	m = strconv.AppendInt(m, int64(len(ext)), 10)
	m = append(m, '\n')
	var data int64
	for _, e := range ext {
		m = strconv.AppendInt(m, e.Off, 10)
		m = append(m, '\n')
		m = strconv.AppendInt(m, e.N, 10)
		m = append(m, '\n')
		data += e.N
	}
	m = append(m, zeroBlock[:pad512(int64(len(m)))]...)
	stored := int64(len(m)) + data
	if err := t.sparseHeader(h, stored); err != nil {
		return true, fmt.Errorf("archive: write header %q: %w", h.Name, err)
	}
	t.stats.Entries++
	t.stats.Files++
	if _, err := t.raw.Write(m); err != nil {
		return true, err
	}
	changed := false
	var pos int64
	for _, e := range ext {
		if e.Off > pos {
			t.stats.Bytes += e.Off - pos // a hole: counted as content, like Extract counts it
			if t.opts.Progress != nil {
				t.opts.Progress(e.Off - pos)
			}
		}
		remain := e.N
		off := e.Off
		for remain > 0 {
			if err := t.ctx.Err(); err != nil {
				return true, err
			}
			b := t.buf
			if int64(len(b)) > remain {
				b = b[:remain]
			}
			n, rerr := f.ReadAt(b, off)
			if n < len(b) && (rerr == nil || errors.Is(rerr, io.EOF)) {
				clear(b[n:]) // the file shrank: zeros, as regular does
				n, changed = len(b), true
			} else if rerr != nil && !errors.Is(rerr, io.EOF) {
				return true, &os.PathError{Op: "read", Path: full, Err: rerr}
			}
			if _, err := t.raw.Write(b[:n]); err != nil {
				return true, fmt.Errorf("archive: write %q: %w", h.Name, err)
			}
			remain -= int64(n)
			off += int64(n)
			t.stats.Bytes += int64(n)
			if t.opts.Progress != nil {
				t.opts.Progress(int64(n))
			}
		}
		pos = e.Off + e.N
	}
	if _, err := t.raw.Write(zeroBlock[:pad512(stored)]); err != nil {
		return true, err
	}
	if changed {
		t.stats.Changed++
		t.warn(full, errors.New("file changed size while being archived"))
	}
	return true, nil
}

// copySparse writes the content of a sparse entry to the new, empty file f with holes
// (see above) and sets its size.
func (x *extractor) copySparse(f *os.File, rd io.Reader, rel string) error {
	var off int64
	for {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		n, err := fill(rd, x.buf)
		b := x.buf[:n]
		for i := 0; i < len(b); {
			j := min(i+sparseBlock, len(b))
			if bytes.Equal(b[i:j], zeroBlock[:j-i]) {
				i = j
				continue
			}
			k := j
			for k < len(b) {
				e := min(k+sparseBlock, len(b))
				if bytes.Equal(b[k:e], zeroBlock[:e-k]) {
					break
				}
				k = e
			}
			if _, werr := f.WriteAt(b[i:k], off+int64(i)); werr != nil {
				return pathErr("write", rel, werr)
			}
			i = k
		}
		off += int64(n)
		x.stats.Bytes += int64(n)
		if x.opts.Progress != nil && n > 0 {
			x.opts.Progress(int64(n))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("archive: reading %q: %w", rel, err)
		}
	}
	if err := f.Truncate(off); err != nil {
		return pathErr("truncate", rel, err)
	}
	return nil
}

// fill reads into b until it is full or the reader ends (io.EOF, with what was read).
func fill(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
