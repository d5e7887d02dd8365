package snapshot

import (
	"testing"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/archive"
)

// A dump's file says what it holds: an SQL script, or mongodump's archive; the
// compression's extension ends it, and DetectCompression reads it back.
func TestDumpArchiveNames(t *testing.T) {
	for _, c := range []struct {
		engine string
		comp   archive.Compression
		want   string
	}{
		{maim.DBPostgreSQL, archive.Zstd, "dump-db.sql.zst"},
		{maim.DBMariaDB, archive.Gzip, "dump-db.sql.gz"},
		{maim.DBMySQL, archive.None, "dump-db.sql"},
		{maim.DBMongoDB, archive.Zstd, "dump-db.archive.zst"},
		{maim.DBMongoDB, archive.Gzip, "dump-db.archive.gz"},
		{maim.DBMongoDB, archive.None, "dump-db.archive"},
	} {
		got := DumpArchive("db", c.engine, c.comp)
		if got != c.want || archive.DetectCompression(got) != c.comp {
			t.Errorf("%s %v: %q (compression %v), want %q", c.engine, c.comp, got, archive.DetectCompression(got), c.want)
		}
	}
}
