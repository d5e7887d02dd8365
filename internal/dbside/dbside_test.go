package dbside

import (
	"testing"

	"github.com/docker-maim/docker-maim/internal/project"
)

// TestLayout: the side PGDATA mirrors PGDATA's place in the source below the side
// directory: the old layout (PGDATA the mount), 18's (the volume at /var/lib/postgresql,
// PGDATA 18/docker), a PGDATA off the source refused.
func TestLayout(t *testing.T) {
	for _, c := range []struct{ mount, pgdata, side, rel string }{
		{"/var/lib/postgresql/data", "/var/lib/postgresql/data", "/var/lib/postgresql/data/.maim-migrate-x", ""},
		{"/var/lib/postgresql/data/", "/var/lib/postgresql/data", "/var/lib/postgresql/data/.maim-migrate-x", ""},
		{"/var/lib/postgresql", "/var/lib/postgresql/18/docker", "/var/lib/postgresql/.maim-migrate-x/18/docker", "18/docker"},
		{"/var/lib/postgresql/data", "/var/lib/postgresql/data/pgdata", "/var/lib/postgresql/data/.maim-migrate-x/pgdata", "pgdata"},
		{"/", "/pg", "/.maim-migrate-x/pg", "pg"},
	} {
		side, rel, err := Layout(c.mount, c.pgdata, ".maim-migrate-x")
		if err != nil || side != c.side || rel != c.rel {
			t.Errorf("Layout(%s, %s) = %q, %q, %v; want %q, %q", c.mount, c.pgdata, side, rel, err, c.side, c.rel)
		}
	}
	for _, c := range [][3]string{
		{"/var/lib/postgresql/data", "/var/lib/postgresql/18/docker", ".maim-migrate-x"},
		{"/var/lib/postgresql/data", "/var/lib/postgresql/database", ".maim-migrate-x"},
		{"/data", "/data/.maim-migrate-x/pg", ".maim-migrate-x"},
		{"/data", "/data", "a/b"},
		{"data", "/data", ".maim-migrate-x"},
	} {
		if side, _, err := Layout(c[0], c[1], c[2]); err == nil {
			t.Errorf("Layout(%s, %s, %s) = %s, want an error", c[0], c[1], c[2], side)
		}
	}
}

// TestSource: the mount of the data source holding the old data directory, the nearest
// above it; a source the service does not mount, or a single file, is an error.
func TestSource(t *testing.T) {
	srcs := []project.Source{
		{Name: "pgdata", Kind: project.KindVolume, VolumeName: "p_pgdata", Mounts: []project.Mount{{Service: "db", Target: "/var/lib/postgresql"}, {Service: "backup", Target: "/var/lib/postgresql/data"}}},
		{Name: "./conf", Kind: project.KindBindFile, HostPath: "/srv/p/conf", Mounts: []project.Mount{{Service: "db", Target: "/var/lib/postgresql/data"}}},
	}
	spec, err := Source(srcs, "pgdata", "db", "/var/lib/postgresql/data")
	if err != nil || spec.Mount != "/var/lib/postgresql" || spec.Source.VolumeName != "p_pgdata" {
		t.Errorf("Source = %+v, %v; want p_pgdata at /var/lib/postgresql", spec, err)
	}
	for _, c := range [][3]string{{"pgdata", "web", "/var/lib/postgresql/data"}, {"pgdata", "db", "/var/lib/postgresqlx"}, {"./conf", "db", "/var/lib/postgresql/data"}} {
		if spec, err := Source(srcs, c[0], c[1], c[2]); err == nil {
			t.Errorf("Source(%v) = %+v, want an error", c, spec)
		}
	}
}
