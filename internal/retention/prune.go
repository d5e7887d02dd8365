// Package retention owns which backups are kept and which go: prune, its rules (the
// backup an interrupted operation's journal names, the last upgrade's, the newest complete
// ones, safety backups first, another engine's or user's never), the restic-style policy
// by time buckets (ApplyPolicy, pure: --keep-last, --keep-daily, ...) and the image pins a
// removed backup takes with it.
package retention

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	maim "github.com/docker-maim/docker-maim/internal/api"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/stack"
	"github.com/moby/moby/client"
)

// Why a backup was kept.
const (
	KeptNewest      = maim.KeptNewest      // one of the --keep newest complete backups
	KeptLastUpgrade = maim.KeptLastUpgrade // the backup `rollback` with no ID goes back to
	KeptJournal     = maim.KeptJournal     // an interrupted operation needs it
	KeptUnreadable  = maim.KeptUnreadable  // its manifest cannot be read (--include-unreadable removes it)
	KeptYoung       = maim.KeptYoung       // younger than --older-than
	KeptOtherUser   = maim.KeptOtherUser   // made on this engine by another user: theirs to prune
	KeptUnrecorded  = maim.KeptUnrecorded  // made by an older build that did not record its engine (--include-unrecorded removes it)
	KeptBase        = maim.KeptBase        // a kept backup's incremental sources build on it
	KeptPolicy      = maim.KeptPolicy      // kept by a --keep-last/-hourly/-daily/-weekly/-monthly/-yearly/-within rule
)

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
//   - with a Policy, ApplyPolicy over this user's complete backups (the protected ones
//     count in its buckets as any other, and are listed with every reason that keeps
//     them): those it keeps stay, with their reasons; a day, a week, ... is that of the
//     backup's time in the local time zone of the host running prune (TZ), as restic
//     buckets a snapshot by the local time it recorded (manifests record UTC);
//   - of the other complete backups, the Keep newest stay (default 5 without a Policy,
//     none with one unless Keep is set), manual and upgrade backups before safety ones
//     (pre-restore, pre-rollback): safety backups are pruned first;
//   - incomplete backups (no manifest: interrupted while writing) and damaged ones
//     (readable manifest, an archive missing or of the wrong size) are removed whatever
//     Keep or the Policy say. An incomplete one records no origin; it is removed whoever began it,
//     which is exact while the caller holds the backup dir's lock (Store.Lock): every
//     writer of this build takes it, so no backup is being written then (a docker-maim
//     from before that lock, writing into the same dir at the same time, is not seen);
//   - with OlderThan, only backups older than it are removed;
//   - a backup a kept one needs (the base of an incremental source, the backup an
//     unchanged source refers to: Manifest.Needs), and what that one needs in turn, stays
//     (KeptBase): a chain is never cut.
//
// Removal order: incomplete and damaged backups, then safety backups, then the others,
// each newest first. A journal or history that cannot be read stops prune: it cannot
// tell what is needed. The caller holds the project lock.
func Prune(ctx context.Context, env *stack.Env, projectName string, opts maim.PruneOptions) (*maim.PruneResult, error) {
	return prune(ctx, env, projectName, opts, false)
}

// PruneRemote is Prune over a remote copy of the backups (env.Store is the remote's): the
// same rules and policy, the backup an interrupted operation or a rollback needs asked of
// the remote (the newest complete upgrade backup there the history names), so the last
// good remote copy of it always stays. It removes no image pin: those belong to the local
// backups, whose own prune removes them.
func PruneRemote(ctx context.Context, env *stack.Env, projectName string, opts maim.PruneOptions) (*maim.PruneResult, error) {
	return prune(ctx, env, projectName, opts, true)
}

func prune(ctx context.Context, env *stack.Env, projectName string, opts maim.PruneOptions, remote bool) (*maim.PruneResult, error) {
	if opts.Keep <= 0 && opts.Policy.Empty() {
		opts.Keep = 5
	}
	all, err := env.Store.List(projectName)
	if err != nil {
		return nil, err
	}
	pr := &pruner{env: env, project: projectName, opts: opts, all: all, held: map[string]bool{}, noPins: remote,
		res: &maim.PruneResult{Removed: []maim.Pruned{}, Kept: []maim.Kept{}, DryRun: opts.DryRun}}
	if err := pr.protect(); err != nil {
		return nil, err
	}
	pr.applyPolicy(bucketZone, time.Now())
	broken := pr.sortOut()
	pr.keepByPolicy()
	others, safety := pr.keepNewest()
	now := time.Now()
	pr.keepBases(now, &others, &safety)
	for _, group := range [][]backup.Entry{broken, safety, others} {
		for _, e := range group {
			if err := pr.removeOld(ctx, e, now); err != nil {
				return pr.res, err
			}
		}
	}
	sort.SliceStable(pr.res.Kept, func(i, j int) bool { return idAfter(pr.res.Kept[i].ID, pr.res.Kept[j].ID) })
	return pr.res, nil
}

// pruner is one prune in progress: the project's backups and what is decided about them.
type pruner struct {
	env     *stack.Env
	project string
	opts    maim.PruneOptions
	res     *maim.PruneResult
	all     []backup.Entry
	// rules are the backups the journal or the history needs (protect).
	rules map[string]maim.Kept
	// held are the backups kept because they are not this engine's user's to remove (sortOut).
	held map[string]bool
	// journalOp is the interrupted operation whose journal names a backup (protect).
	journalOp string
	// decided are the Policy's decisions by backup ID (applyPolicy; none without a Policy).
	decided map[string]Decision
	// noPins: removing a backup leaves the image pins (a remote's prune: PruneRemote).
	noPins bool
}

// protect finds the backups never removed: the one an interrupted operation's journal
// names and the last upgrade's (the one `rollback` with no ID goes back to).
func (pr *pruner) protect() error {
	journals := pr.env.Journals(pr.project)
	pr.rules = map[string]maim.Kept{}
	if jr, err := journals.Load(); err != nil {
		return err
	} else if jr != nil && jr.BackupID != "" {
		pr.journalOp = jr.Op
		pr.rules[jr.BackupID] = maim.Kept{Rule: KeptJournal, Why: "the interrupted " + jr.Op + " needs it (docker maim rollback resolves it)"}
	}
	last, err := journals.LastUpgradeBackup()
	if err != nil && !errors.Is(err, backup.ErrNotFound) {
		return err
	}
	if _, taken := pr.rules[last]; last != "" && !taken {
		pr.rules[last] = maim.Kept{Rule: KeptLastUpgrade, Why: "the last upgrade's backup: `docker maim rollback` goes back to it"}
	}
	return nil
}

// sortOut keeps, newest first, the protected backups, another user's, unrecorded ones
// (unless IncludeUnrecorded) and unreadable ones (unless IncludeUnreadable); it returns
// the incomplete and damaged ones, newest first: removed whatever Keep says.
func (pr *pruner) sortOut() (broken []backup.Entry) {
	for _, e := range pr.newestFirst(func(backup.Entry) bool { return true }) {
		if k, ok := pr.rules[e.ID]; ok {
			pr.keep(e, k)
			continue
		}
		switch {
		case e.Owner == backup.OwnerOtherUser:
			pr.held[e.ID] = true
			pr.keep(e, maim.Kept{Rule: KeptOtherUser, Why: "made on this engine by user " + userOf(e) + ": their journal and history say whether it is needed; their prune removes it"})
		case e.Owner == backup.OwnerUnrecorded && !pr.opts.IncludeUnrecorded:
			pr.held[e.ID] = true
			pr.keep(e, maim.Kept{Rule: KeptUnrecorded, Why: "made by a docker-maim that did not record its engine: it may be another engine's; --include-unrecorded removes it as this engine's"})
		case e.Status == backup.StatusCorrupt && e.Manifest == nil && !pr.opts.IncludeUnreadable:
			pr.keep(e, maim.Kept{Rule: KeptUnreadable, Why: "its manifest cannot be read (" + e.Problem + "); --include-unreadable removes it"})
		case e.Status != backup.StatusComplete:
			broken = append(broken, e)
		}
	}
	return broken
}

// keepNewest gives the Keep slots to the newest complete manual and upgrade backups first,
// then to safety backups; it returns the rest of each, newest first.
func (pr *pruner) keepNewest() (others, safety []backup.Entry) {
	slots := pr.opts.Keep
	complete := func(e backup.Entry) bool {
		_, ruled := pr.rules[e.ID]
		return !ruled && !pr.held[e.ID] && !pr.decided[e.ID].Keep && e.Status == backup.StatusComplete
	}
	for _, e := range pr.newestFirst(func(e backup.Entry) bool { return complete(e) && !isSafety(e.Manifest.Reason) }) {
		if slots > 0 {
			slots--
			pr.keep(e, maim.Kept{Rule: KeptNewest, Why: fmt.Sprintf("one of the %d newest complete backups (--keep)", pr.opts.Keep)})
			continue
		}
		others = append(others, e)
	}
	for _, e := range pr.newestFirst(func(e backup.Entry) bool { return complete(e) && isSafety(e.Manifest.Reason) }) {
		if slots > 0 {
			slots--
			pr.keep(e, maim.Kept{Rule: KeptNewest, Why: fmt.Sprintf("one of the %d newest complete backups (--keep; safety backups count last)", pr.opts.Keep)})
			continue
		}
		safety = append(safety, e)
	}
	return others, safety
}

// removeOld removes e and its image pins (with DryRun: counts the pins that are there and
// removes nothing), unless it is younger than OlderThan.
func (pr *pruner) removeOld(ctx context.Context, e backup.Entry, now time.Time) error {
	if pr.opts.OlderThan > 0 && now.Sub(createdAt(e)) < pr.opts.OlderThan {
		pr.keep(e, maim.Kept{Rule: KeptYoung, Why: "younger than --older-than " + pr.opts.OlderThan.String()})
		return nil
	}
	p := maim.Pruned{ID: e.ID, Status: string(e.Status), Reason: reasonOf(e), Time: createdAt(e)}
	if e.Manifest != nil {
		p.Size = e.Manifest.OwnSize()
	}
	if pr.opts.DryRun && e.Manifest != nil && !pr.noPins {
		for _, s := range e.Manifest.Services { // the pins that are there: those a real prune removes
			if _, err := pr.env.Engine.ImageInspect(ctx, stack.PinRef(pr.project, s.Name, e.ID)); err == nil {
				p.Pins++
			}
		}
	}
	if !pr.opts.DryRun {
		if e.Manifest != nil && !pr.noPins {
			for _, s := range e.Manifest.Services {
				ref := stack.PinRef(pr.project, s.Name, e.ID)
				if _, err := pr.env.Engine.ImageRemove(ctx, ref, client.ImageRemoveOptions{}); err == nil {
					p.Pins++
				}
			}
		}
		if err := pr.env.Store.Remove(pr.project, e.ID); err != nil {
			return err
		}
	}
	pr.res.Removed = append(pr.res.Removed, p)
	pr.res.FreedBytes += p.Size
	return nil
}

// keep records e as kept by k, with every reason the Policy gave it too.
func (pr *pruner) keep(e backup.Entry, k maim.Kept) {
	k.ID, k.Status, k.Reason, k.Time = e.ID, string(e.Status), reasonOf(e), createdAt(e)
	k.Reasons = []string{pr.shortReason(k)}
	if d := pr.decided[e.ID]; d.Keep && k.Rule == KeptPolicy {
		k.Reasons = d.Reasons
	} else if d.Keep {
		var more []string // the Policy's own reasons (its Protected one is k's)
		for _, r := range d.Reasons {
			if r != k.Reasons[0] {
				more = append(more, r)
			}
		}
		if len(more) > 0 {
			k.Reasons = append(k.Reasons, more...)
			k.Why += "; also kept by " + strings.Join(more, ", ")
		}
	}
	pr.res.Kept = append(pr.res.Kept, k)
}

// newestFirst are the backups pick selects, newest first.
func (pr *pruner) newestFirst(pick func(backup.Entry) bool) []backup.Entry {
	var out []backup.Entry
	for i := len(pr.all) - 1; i >= 0; i-- {
		if pick(pr.all[i]) {
			out = append(out, pr.all[i])
		}
	}
	return out
}

// reasonOf is a backup's reason ("" when its manifest cannot be read).
func reasonOf(e backup.Entry) string {
	if e.Manifest != nil {
		return e.Manifest.Reason
	}
	return ""
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

// createdAt is when a backup was made: its manifest's time, else the time in its ID
// (zero when neither says).
func createdAt(e backup.Entry) time.Time {
	if e.Manifest != nil && !e.Manifest.CreatedAt.IsZero() {
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
