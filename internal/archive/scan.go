package archive

import (
	"archive/tar"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"strings"
)

// cleanName turns an entry name into a slash-separated path relative to the
// archive root ("" is the root itself). It refuses absolute names and ".."
// components; empty and "." components are dropped.
func cleanName(name string) (string, error) {
	if name == "" {
		return "", &UnsafeEntryError{Name: name, Reason: "empty name"}
	}
	if strings.HasPrefix(name, "/") {
		return "", &UnsafeEntryError{Name: name, Reason: "absolute path"}
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", &UnsafeEntryError{Name: name, Reason: "NUL byte in name"}
	}
	// Fast path: "./a/b" or "a/b" without odd components.
	s := strings.TrimPrefix(name, "./")
	s = strings.TrimSuffix(s, "/")
	if s == "" || s == "." {
		return "", nil
	}
	clean := true
	for part := range strings.SplitSeq(s, "/") {
		if part == "" || part == "." || part == ".." {
			clean = false
			break
		}
	}
	if clean {
		return s, nil
	}
	var parts []string
	for part := range strings.SplitSeq(s, "/") {
		switch part {
		case "", ".":
		case "..":
			return "", &UnsafeEntryError{Name: name, Reason: `".." component`}
		default:
			parts = append(parts, part)
		}
	}
	return strings.Join(parts, "/"), nil
}

// validator tracks what an archive has put at each path so far, to refuse
// entries leading through a non-directory of the archive and hardlinks to
// entries not yet seen. Paths are kept as 64-bit seeded hashes so memory stays
// small for archives with millions of entries.
type validator struct {
	seed maphash.Seed
	seen map[uint64]bool // path hash -> is a directory
}

func newValidator() *validator {
	return &validator{seed: maphash.MakeSeed(), seen: map[uint64]bool{}}
}

func (v *validator) hash(rel string) uint64 { return maphash.String(v.seed, rel) }

// check validates header h whose cleaned name is rel and records it.
func (v *validator) check(h *tar.Header, rel string, allowDevices bool) error {
	// No ancestor may be a non-directory entry of this archive.
	for i := len(rel) - 1; i > 0; i-- {
		if rel[i] != '/' {
			continue
		}
		if isDir, ok := v.seen[v.hash(rel[:i])]; ok && !isDir {
			return &UnsafeEntryError{Name: h.Name, Reason: fmt.Sprintf("path leads through non-directory entry %q", rel[:i])}
		}
	}
	switch h.Typeflag {
	case tar.TypeDir:
	case tar.TypeReg, tar.TypeRegA, tar.TypeSymlink, tar.TypeFifo:
		if rel == "" {
			return &UnsafeEntryError{Name: h.Name, Reason: "the archive root must be a directory"}
		}
	case tar.TypeChar, tar.TypeBlock:
		if rel == "" {
			return &UnsafeEntryError{Name: h.Name, Reason: "the archive root must be a directory"}
		}
		if !allowDevices {
			return &UnsafeEntryError{Name: h.Name, Reason: "device node"}
		}
	case tar.TypeLink:
		if rel == "" {
			return &UnsafeEntryError{Name: h.Name, Reason: "the archive root must be a directory"}
		}
		target, err := cleanName(h.Linkname)
		if err != nil {
			return &UnsafeEntryError{Name: h.Name, Reason: "hardlink target " + err.(*UnsafeEntryError).Reason}
		}
		if isDir, ok := v.seen[v.hash(target)]; !ok || isDir || target == "" {
			return &UnsafeEntryError{Name: h.Name, Reason: fmt.Sprintf("hardlink target %q is not an earlier file of the archive", h.Linkname)}
		}
	default:
		return fmt.Errorf("archive: entry %q has unsupported type %q", h.Name, h.Typeflag)
	}
	v.seen[v.hash(rel)] = h.Typeflag == tar.TypeDir
	return nil
}

// trailerReader counts bytes and remembers whether the last 512 bytes read
// were zero, to tell a complete tar (end-of-archive zero block) from one cut
// at an entry boundary, which archive/tar reports as a clean io.EOF.
type trailerReader struct {
	r     io.Reader
	n     int64
	zeros int64 // number of trailing zero bytes read so far
}

func (t *trailerReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.n += int64(n)
		b := p[:n]
		i := len(b)
		for i > 0 && b[i-1] == 0 {
			i--
		}
		if i == 0 {
			t.zeros += int64(n)
		} else {
			t.zeros = int64(len(b) - i)
		}
	}
	return n, err
}

// sawTrailer reports whether the two zero blocks that end a tar archive were
// read after offset contentEnd (the end of the last entry's content, before
// its padding). archive/tar accepts a lone zero block or none at all.
func (t *trailerReader) sawTrailer(contentEnd int64) bool {
	return t.n-contentEnd >= 1024 && t.zeros >= 1024
}

// drain reads the rest of the stream (record padding) so that a compressed
// stream's checksum is verified.
func drain(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

var errTruncated = errors.New("archive: truncated tar stream (no end-of-archive marker)")

// Scan reads every entry (and all content) and validates names; returns counts.
// Names follow Extract's rules (no "..", no absolute paths, no path through a
// non-directory entry of the archive, hardlinks only to earlier files); device
// nodes are accepted, Extract decides about them. A stream that ends without
// the tar end-of-archive marker is reported as truncated.
func Scan(r io.Reader) (Stats, error) {
	var st Stats
	tr := &trailerReader{r: r}
	rd := tar.NewReader(tr)
	v := newValidator()
	buf := make([]byte, copyBufSize)
	var contentEnd int64
	for {
		h, err := rd.Next()
		if err == io.EOF {
			if !tr.sawTrailer(contentEnd) {
				return st, errTruncated
			}
			return st, drain(tr)
		}
		if err != nil {
			return st, fmt.Errorf("archive: %w", err)
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			if isDeltaHeader(h) {
				st.Delta = true
			}
			for _, p := range deletedIn(h) {
				if rel, err := cleanName(p); err != nil || rel == "" {
					return st, &UnsafeEntryError{Name: p, Reason: "bad path in deletion list"}
				}
				st.Deleted++
			}
			contentEnd = tr.n
			continue
		}
		rel, err := cleanName(h.Name)
		if err != nil {
			return st, err
		}
		if err := v.check(h, rel, true); err != nil {
			return st, err
		}
		st.Entries++
		if h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeRegA {
			st.Files++
			n, err := io.CopyBuffer(io.Discard, onlyReader{rd}, buf)
			st.Bytes += n
			if err != nil {
				return st, fmt.Errorf("archive: reading %q: %w", h.Name, err)
			}
		}
		contentEnd = tr.n
	}
}

// onlyReader hides WriteTo/ReadFrom so io.CopyBuffer uses the given buffer.
type onlyReader struct{ io.Reader }
