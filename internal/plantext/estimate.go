package plantext

import (
	"fmt"
	"slices"
	"strings"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker/go-units"
)

// EstimateLine is the plan's line on the backup's size and the room for it: "estimated
// backup: up to 12.3MB (increments of backup ID; 21.5GB in full), free in the backup
// dir: 19GB". The estimate is an upper bound: each source taken as an increment counts
// what its increment can hold (api.SourceSize.Estimate), the others their full size.
func EstimateLine(p *api.Plan) string {
	var bases []string
	for _, s := range p.Sources {
		if s.IncrementOf != "" && !slices.Contains(bases, s.IncrementOf) {
			bases = append(bases, s.IncrementOf)
		}
	}
	est := units.HumanSize(float64(p.BackupBytes))
	if len(bases) > 0 {
		what := "increments of backup " + bases[0]
		if len(bases) > 1 {
			what = "increments of backups " + strings.Join(bases, ", ")
		}
		est = fmt.Sprintf("up to %s (%s; %s in full)", est, what, units.HumanSize(float64(p.FullBackupBytes)))
	}
	return fmt.Sprintf("estimated backup: %s, free in the backup dir: %s", est, units.HumanSize(float64(p.FreeBytes)))
}

// SourceSizeText is a data source's size column in the plan: its size, what its
// increment can hold at most, or why it is counted whole though it could be an increment.
func SourceSizeText(s api.SourceSize) string {
	size := "?"
	if s.Bytes >= 0 {
		size = units.HumanSize(float64(s.Bytes))
	}
	switch {
	case s.NotBackedUp != "":
		return s.NotBackedUp
	case s.IncrementOf != "":
		return fmt.Sprintf("%s (increment over %s: up to %s)", size, s.IncrementOf, units.HumanSize(float64(s.IncrementBytes)))
	case s.Whole != "":
		return size + " (counted whole: " + s.Whole + ")"
	}
	return size
}
