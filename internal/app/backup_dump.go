package app

import (
	"context"
	"fmt"
	"io"
	"sort"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/dbdump"
	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/docker-maim/docker-maim/internal/svchooks"
)

// The backup verb's logical dumps (internal/dbdump): a service named by `backup --dump`,
// by stack-back's stack-back.postgres/mysql/mariadb label or by the x-maim dump key is
// dumped by its database's own tool inside its running container, after the pre-backup
// commands and before pass one and the stop (a dump costs no downtime), into an archive of
// its own in the backup (snapshot.AddDump). A dump that fails refuses the backup before
// anything stops (exit 12), with the tool's message; the begun backup is dropped.

// readDumps merges the --dump services with the project's requests (a service asked for
// twice is dumped once); a --dump naming no service of the project is refused.
func (t *btxn) readDumps(h *svchooks.Hooks) error {
	seen := map[string]bool{}
	for _, d := range h.Dumps {
		if !seen[d.Service] {
			seen[d.Service] = true
			d.Supported = true
			t.dumps = append(t.dumps, d)
		}
	}
	for _, s := range t.dumpFlag {
		if _, ok := t.p.Project.Services[s]; !ok {
			return fmt.Errorf("--dump %s: the project has no service %s", s, s)
		}
		if !seen[s] {
			seen[s] = true
			t.dumps = append(t.dumps, maim.DumpRequest{Service: s, From: "--dump", Supported: true})
		}
	}
	sort.SliceStable(t.dumps, func(i, j int) bool { return t.dumps[i].Service < t.dumps[j].Service })
	return nil
}

// bdumpPhase takes the logical dumps while everything runs.
var bdumpPhase = journal.Step[*btxn]{
	Name: "dump",
	Skip: func(t *btxn) string {
		if len(t.dumps) == 0 {
			return "no dump asked for"
		}
		return ""
	},
	Describe: func(*btxn) string { return "dump the databases asked for, in their running containers" },
	Run: func(ctx context.Context, t *btxn) error {
		r, err := t.p.RunningContainers(ctx, t.env.Engine)
		if err != nil {
			return err
		}
		for _, d := range t.dumps {
			ids := append([]string(nil), r.IDs[d.Service]...)
			sort.Strings(ids)
			if len(ids) == 0 {
				if d.From == "--dump" {
					return refused{fmt.Errorf("--dump %s: no container of %s runs: a dump is taken from the running server (start it, or back up its files only)", d.Service, d.Service)}
				}
				t.env.Logf("%s: no dump taken (%s): no container of it runs; the file archive of its data protects it", d.Service, d.From)
				continue
			}
			if err := t.dump(ctx, d, ids[0]); err != nil {
				return refused{err}
			}
		}
		return nil
	},
}

// dump takes one service's dump from container id.
func (t *btxn) dump(ctx context.Context, d maim.DumpRequest, id string) error {
	cmd, ref, err := dbdump.ForContainer(ctx, t.env.Engine, d.Kind, id)
	if err != nil {
		return fmt.Errorf("dump of %s (%s): %w", d.Service, d.From, err)
	}
	t.env.Logf("dumping %s (%s) in %s: %s", d.Service, d.From, shortID(id), cmd)
	got, err := t.env.Snapshots.AddDump(ctx, t.p, t.plan, backup.Dump{Service: d.Service, Engine: cmd.Engine, Command: cmd.String(), Image: ref},
		func(w io.Writer) error { return dbdump.Take(ctx, t.env.Engine, d.Service, id, cmd, w) })
	if err != nil {
		return err
	}
	t.env.Logf("dumped %s: %s, %d bytes (%d compressed)", d.Service, got.Archive, got.Bytes, got.ArchiveSize)
	return nil
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
