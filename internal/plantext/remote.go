package plantext

import (
	"fmt"
	"io"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker/go-units"
)

// Remote writes one line per backup a verb copied, or failed to copy, to the remote.
func Remote(w io.Writer, copies []api.RemoteCopy) {
	for _, c := range copies {
		if !c.Copied {
			fmt.Fprintf(w, "backup %s NOT copied to %s: %s (it is complete on this host only)\n", c.BackupID, c.Remote, c.Error)
			continue
		}
		how := units.HumanSize(float64(c.Bytes)) + " sent"
		if c.Sealed {
			how += ", sealed with age"
		}
		if c.Skipped > 0 {
			how += fmt.Sprintf(", %d files already there", c.Skipped)
		}
		fmt.Fprintf(w, "backup %s copied to %s (%s)\n", c.BackupID, c.Remote, how)
	}
}

// Fetched writes the line of a backup a restore or rollback fetched from the remote.
func Fetched(w io.Writer, f *api.Fetched) {
	if f != nil {
		fmt.Fprintf(w, "backup %s fetched from %s (%s): %s, checked against its manifest\n", f.BackupID, f.Remote, f.Why, units.HumanSize(float64(f.Bytes)))
	}
}

// Locations is a backup row's locations for the backups table: "local", "remote",
// "local+remote"; a remote copy that is not complete is said with its status.
func Locations(r api.BackupRow) string {
	s := ""
	for i, l := range r.Locations {
		if i > 0 {
			s += "+"
		}
		s += l
	}
	if r.RemoteStatus != "" {
		s += " (remote " + string(r.RemoteStatus) + ")"
	}
	return s
}
