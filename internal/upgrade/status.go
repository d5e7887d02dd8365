package upgrade

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/stack"
	"github.com/moby/moby/client"
)

// ServiceStatus is one container of a service as it is now.
type ServiceStatus struct {
	Service   string `json:"service"`
	Container string `json:"container"`
	Image     string `json:"image"`
	ImageID   string `json:"image_id"`
	Version   string `json:"version,omitempty"`
	Digest    string `json:"digest,omitempty"`
	State     string `json:"state"`
	Health    string `json:"health,omitempty"`
}

// Status is the project's state, its last upgrade and any interrupted operation.
type Status struct {
	Project     string          `json:"project"`
	Services    []ServiceStatus `json:"services"`
	LastUpgrade *Record         `json:"last_upgrade,omitempty"`
	LastOp      *Record         `json:"last_operation,omitempty"`
	Interrupted *Interrupted    `json:"interrupted,omitempty"`
	Backups     int             `json:"backups"`
	// AppVersions are the application's data and config versions now (MaiBot: database
	// schema, configs' [inner].version, read from the host); LastUpgradeAppVersions the
	// ones the last upgrade's backup recorded (what a rollback restores).
	AppVersions            map[string]string `json:"app_versions,omitempty"`
	LastUpgradeAppVersions map[string]string `json:"last_upgrade_app_versions,omitempty"`
}

// Interrupted describes a journal left behind and how to resolve it.
type Interrupted struct {
	Journal
	Resolve []string `json:"resolve"`
}

// Status gathers the project's status. It needs no lock.
func (m *Manager) Status(ctx context.Context, p *project.Project) (*Status, error) {
	st := &Status{Project: p.Name, Services: []ServiceStatus{}}
	cs, err := project.Containers(ctx, m.Engine, p.Name)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		s := ServiceStatus{Service: c.Labels[project.LabelService], Image: c.Image, ImageID: c.ImageID, State: string(c.State)}
		if len(c.Names) > 0 {
			s.Container = strings.TrimPrefix(c.Names[0], "/")
		}
		if c.Health != nil {
			s.Health = string(c.Health.Status)
		} else if ci, err := m.Engine.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{}); err == nil && ci.Container.State != nil && ci.Container.State.Health != nil {
			s.Health = string(ci.Container.State.Health.Status)
		}
		if info, err := inspectImage(ctx, m.Engine, c.ImageID); err == nil {
			s.Version = info.Version
			if len(info.Digests) > 0 {
				s.Digest = info.Digests[0]
			}
		}
		st.Services = append(st.Services, s)
	}
	sort.Slice(st.Services, func(i, j int) bool {
		if st.Services[i].Service != st.Services[j].Service {
			return st.Services[i].Service < st.Services[j].Service
		}
		return st.Services[i].Container < st.Services[j].Container
	})
	j := m.journals(p.Name)
	hist, err := j.History()
	if err != nil {
		return nil, err
	}
	for i := len(hist) - 1; i >= 0; i-- {
		if st.LastOp == nil {
			r := hist[i]
			st.LastOp = &r
		}
		if hist[i].Op == "upgrade" && hist[i].Result != string(OutcomeNothingToDo) {
			r := hist[i]
			st.LastUpgrade = &r
			break
		}
	}
	jr, err := j.Load()
	if err != nil {
		return nil, err
	}
	if jr != nil {
		in := &Interrupted{Journal: *jr}
		in.Resolve = []string{"docker maim -p " + p.Name + " rollback   # back to the state before the " + jr.Op}
		st.Interrupted = in
	}
	if all, err := m.Store.List(p.Name); err == nil {
		st.Backups = len(all)
	}
	st.AppVersions, _ = appVersions(p) // a version that cannot be read is absent
	if u := st.LastUpgrade; u != nil && u.BackupID != "" {
		if e, err := m.Store.Get(p.Name, u.BackupID); err == nil && e.Manifest != nil {
			st.LastUpgradeAppVersions = e.Manifest.AppVersions
		}
	}
	return st, nil
}

// PruneOptions select what prune removes.
type PruneOptions struct {
	Keep      int           // newest complete backups to keep besides those kept by a rule (default 5)
	OlderThan time.Duration // only remove backups older than this (0: any age)
	// IncludeUnreadable also removes backups whose manifest cannot be read (one written
	// by a newer docker-maim, a torn or unreadable manifest.json). Without it they stay.
	IncludeUnreadable bool
	// IncludeUnrecorded also treats as this engine's the backups whose manifest records no
	// origin (made by a docker-maim from before origins were recorded). Without it they
	// stay: they may be another engine's, whose journal and history prune cannot see.
	IncludeUnrecorded bool
	DryRun            bool
}

// Pruned is one removed backup.
type Pruned struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"` // the manifest's reason ("" when unreadable)
	Size   int64  `json:"size"`
	Pins   int    `json:"pins_removed"`
}

// Why a backup was kept.
const (
	KeptNewest      = "newest"       // one of the --keep newest complete backups
	KeptLastUpgrade = "last-upgrade" // the backup `rollback` with no ID goes back to
	KeptJournal     = "journal"      // an interrupted operation needs it
	KeptUnreadable  = "unreadable"   // its manifest cannot be read (--include-unreadable removes it)
	KeptYoung       = "younger"      // younger than --older-than
	KeptOtherUser   = "other-user"   // made on this engine by another user: theirs to prune
	KeptUnrecorded  = "unrecorded"   // made by an older build that did not record its engine (--include-unrecorded removes it)
)

// Kept is one backup prune left, and why.
type Kept struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"` // the manifest's reason
	Rule   string `json:"rule"`             // one of the Kept* constants
	Why    string `json:"why"`              // the rule in words
}

// PruneResult is what prune removed (or would remove) and what it kept.
type PruneResult struct {
	Removed []Pruned `json:"removed"`
	Kept    []Kept   `json:"kept"`
	DryRun  bool     `json:"dry_run"`
}

// isSafety tells a safety backup (taken by restore or rollback before they overwrite).
func isSafety(reason string) bool { return reason == "pre-restore" || reason == "pre-rollback" }

// Prune removes old backups and their image pins. It sees only its engine's backups
// (Store.List: a backup dir may be shared with other engines, whose own prune decides on
// theirs) and removes only its own user's: the journal and history that protect a backup
// are per engine and user, so it leaves another user's on the same engine (root's cron
// beside the user) and, unless IncludeUnrecorded, those whose manifest records no origin
// (an older build's: they may be another engine's). Rules, in order:
//   - never removed: the backup an interrupted operation's journal names, the last
//     upgrade's backup (the one `rollback` with no ID goes back to), and, unless
//     IncludeUnreadable, a backup whose manifest cannot be read (written by a newer
//     docker-maim, torn, unreadable);
//   - of the other complete backups, the Keep newest stay, manual and upgrade backups
//     before safety ones (pre-restore, pre-rollback): safety backups are pruned first;
//   - incomplete backups (no manifest: interrupted while writing) and damaged ones
//     (readable manifest, an archive missing or of the wrong size) are removed whatever
//     Keep says. An incomplete one records no origin; it is removed whoever began it,
//     which is exact while the caller holds the backup dir's lock (Store.Lock): every
//     writer of this build takes it, so no backup is being written then (a docker-maim
//     from before that lock, writing into the same dir at the same time, is not seen);
//   - with OlderThan, only backups older than it are removed.
//
// Removal order: incomplete and damaged backups, then safety backups, then the others,
// each newest first. A journal or history that cannot be read stops prune: it cannot
// tell what is needed. The caller holds the project lock.
func (m *Manager) Prune(ctx context.Context, projectName string, opts PruneOptions) (*PruneResult, error) {
	if opts.Keep <= 0 {
		opts.Keep = 5
	}
	res := &PruneResult{Removed: []Pruned{}, Kept: []Kept{}, DryRun: opts.DryRun}
	all, err := m.Store.List(projectName)
	if err != nil {
		return nil, err
	}
	journals := m.journals(projectName)
	rules := map[string]Kept{}
	if jr, err := journals.Load(); err != nil {
		return nil, err
	} else if jr != nil && jr.BackupID != "" {
		rules[jr.BackupID] = Kept{Rule: KeptJournal, Why: "the interrupted " + jr.Op + " needs it (docker maim rollback resolves it)"}
	}
	last, err := m.lastUpgradeBackup(journals)
	if err != nil && !errors.Is(err, backup.ErrNotFound) {
		return nil, err
	}
	if _, taken := rules[last]; last != "" && !taken {
		rules[last] = Kept{Rule: KeptLastUpgrade, Why: "the last upgrade's backup: `docker maim rollback` goes back to it"}
	}
	reasonOf := func(e backup.Entry) string {
		if e.Manifest != nil {
			return e.Manifest.Reason
		}
		return ""
	}
	keep := func(e backup.Entry, k Kept) {
		k.ID, k.Status, k.Reason = e.ID, string(e.Status), reasonOf(e)
		res.Kept = append(res.Kept, k)
	}
	// Candidates in removal order: broken, safety, others; each newest first.
	var broken, safety, others []backup.Entry
	slots := opts.Keep
	newestFirst := func(pick func(backup.Entry) bool) []backup.Entry {
		var out []backup.Entry
		for i := len(all) - 1; i >= 0; i-- {
			if pick(all[i]) {
				out = append(out, all[i])
			}
		}
		return out
	}
	held := map[string]bool{} // kept by a rule of the loop below
	for _, e := range newestFirst(func(backup.Entry) bool { return true }) {
		if k, ok := rules[e.ID]; ok {
			keep(e, k)
			continue
		}
		switch {
		case e.Owner == backup.OwnerOtherUser:
			held[e.ID] = true
			keep(e, Kept{Rule: KeptOtherUser, Why: "made on this engine by user " + userOf(e) + ": their journal and history say whether it is needed; their prune removes it"})
		case e.Owner == backup.OwnerUnrecorded && !opts.IncludeUnrecorded:
			held[e.ID] = true
			keep(e, Kept{Rule: KeptUnrecorded, Why: "made by a docker-maim that did not record its engine: it may be another engine's; --include-unrecorded removes it as this engine's"})
		case e.Status == backup.StatusCorrupt && e.Manifest == nil && !opts.IncludeUnreadable:
			keep(e, Kept{Rule: KeptUnreadable, Why: "its manifest cannot be read (" + e.Problem + "); --include-unreadable removes it"})
		case e.Status != backup.StatusComplete:
			broken = append(broken, e)
		}
	}
	complete := func(e backup.Entry) bool {
		_, ruled := rules[e.ID]
		return !ruled && !held[e.ID] && e.Status == backup.StatusComplete
	}
	// The Keep slots go to manual and upgrade backups first, then to safety backups.
	for _, e := range newestFirst(func(e backup.Entry) bool { return complete(e) && !isSafety(e.Manifest.Reason) }) {
		if slots > 0 {
			slots--
			keep(e, Kept{Rule: KeptNewest, Why: fmt.Sprintf("one of the %d newest complete backups (--keep)", opts.Keep)})
			continue
		}
		others = append(others, e)
	}
	for _, e := range newestFirst(func(e backup.Entry) bool { return complete(e) && isSafety(e.Manifest.Reason) }) {
		if slots > 0 {
			slots--
			keep(e, Kept{Rule: KeptNewest, Why: fmt.Sprintf("one of the %d newest complete backups (--keep; safety backups count last)", opts.Keep)})
			continue
		}
		safety = append(safety, e)
	}
	now := time.Now()
	for _, group := range [][]backup.Entry{broken, safety, others} {
		for _, e := range group {
			if opts.OlderThan > 0 && now.Sub(createdAt(e)) < opts.OlderThan {
				keep(e, Kept{Rule: KeptYoung, Why: "younger than --older-than " + opts.OlderThan.String()})
				continue
			}
			pr := Pruned{ID: e.ID, Status: string(e.Status), Reason: reasonOf(e)}
			if e.Manifest != nil {
				pr.Size = e.Manifest.Size()
			}
			if !opts.DryRun {
				if e.Manifest != nil {
					for _, s := range e.Manifest.Services {
						ref := stack.PinRef(projectName, s.Name, e.ID)
						if _, err := m.Engine.ImageRemove(ctx, ref, client.ImageRemoveOptions{}); err == nil {
							pr.Pins++
						}
					}
				}
				if err := m.Store.Remove(projectName, e.ID); err != nil {
					return res, err
				}
			}
			res.Removed = append(res.Removed, pr)
		}
	}
	sort.SliceStable(res.Kept, func(i, j int) bool { return idAfter(res.Kept[i].ID, res.Kept[j].ID) })
	return res, nil
}

// userOf names the user who made a backup, from its manifest's origin.
func userOf(e backup.Entry) string {
	if o := e.Manifest.Origin; o != nil {
		switch {
		case o.User != "" && o.UID != "":
			return o.User + " (uid " + o.UID + ")"
		case o.User != "":
			return o.User
		case o.UID != "":
			return "uid " + o.UID
		}
	}
	return "unknown"
}

// createdAt is when a backup was made: its manifest's time, else the time in its ID.
func createdAt(e backup.Entry) time.Time {
	if e.Manifest != nil {
		return e.Manifest.CreatedAt
	}
	t, _ := time.Parse("20060102T150405Z", strings.SplitN(e.ID, "-", 2)[0])
	return t
}

// idAfter orders backup IDs newest first (time, then the collision suffix numerically).
func idAfter(a, b string) bool {
	ab, as, _ := strings.Cut(a, "-")
	bb, bs, _ := strings.Cut(b, "-")
	if ab != bb {
		return ab > bb
	}
	if len(as) != len(bs) {
		return len(as) > len(bs)
	}
	return as > bs
}
