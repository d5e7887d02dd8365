package fsaccess

// Increment is what archive.WriteTar with WriteOptions.Since set to an index (an
// incremental backup's first pass over its base's final index) can write of a tree at
// most, measured by MeasureSince from metadata alone, before anything is read.
type Increment struct {
	// Delta: WriteTar would write a delta over the index. False when it would take the
	// tree whole (Why says why: another root, a one-pass index or file system, a single
	// file); Bytes then equals Full.
	Delta bool
	Why   string
	// Bytes are the content bytes of the regular files the delta holds: those the delta's
	// rule decides changed (treeindex's Index.Changed: not in the index as they are now,
	// or touched since it began), a file with several hard links once (WriteTar writes its
	// content once).
	Bytes int64
	// Full are the content bytes of the whole tree (what Measure counts).
	Full int64
	// Entries are the paths walked (what the final index records); Headers those the
	// delta writes a header for (all but the unchanged regular files); Names the bytes of
	// all their relative paths.
	Entries, Headers, Names int64
}

// Per-path bounds of what an archive holds besides content (Increment.Metadata): a tar
// header, a PAX header with up to two record blocks (sub-second times, long names, link
// targets; a name's own bytes are counted apart), the padding of a file's content to a
// block; and an index entry (its path, counted apart, and eight varints, stored as they
// are at worst).
const (
	headerBound     = 4 * 512
	paddingBound    = 511
	indexEntryBound = 64
)

// Metadata is an upper bound of what the archive and the final index hold besides the
// content bytes: per header written, a tar and a PAX header with two record blocks and
// its content's padding; per path walked an index entry; every name twice (PAX path and
// index). A bound unless a path carries extended attributes or a link target over about
// 500 bytes (then its PAX records take more blocks); zstd stores incompressible data with
// a few bytes per 128 KiB block more, which the caller's fixed margin covers.
func (i Increment) Metadata() int64 {
	return i.Headers*(headerBound+paddingBound) + 2*i.Names + i.Entries*indexEntryBound
}

// Estimate is what the delta can take at most: Bytes plus Metadata.
func (i Increment) Estimate() int64 { return i.Bytes + i.Metadata() }
