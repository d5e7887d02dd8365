package notify

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/redact"
)

// Event is one notification: how an operation on a project ended. The builders below
// make one from each verb's result; a later operation (a remote copy) fills one in itself.
type Event struct {
	// Project is the compose project ("" when it was never resolved).
	Project string
	// Failed: a failure (sent always), else a success (sent with api.NotifyAlways).
	Failed bool
	// Headline says what happened: "upgrade of maibot rolled back".
	Headline string
	// Why is the cause of a failure (redacted when built from an error).
	Why string
	// BackupID is the backup the event is about, and BackupNote what it is to the user.
	BackupID   string
	BackupNote string
	// Details are further lines ("bot: repo:1.0 -> repo:2.0").
	Details []string
	// Next are the commands to run next.
	Next []string
}

// Empty: nothing to send.
func (e Event) Empty() bool { return e.Headline == "" }

// Title is the message's title: "docker-maim on HOST: HEADLINE".
func (e Event) Title(host string) string {
	if host == "" {
		return "docker-maim: " + e.Headline
	}
	return "docker-maim on " + host + ": " + e.Headline
}

// Text is the message: the headline and why, the backup, the details, and the commands to
// run next. It stands on its own (a webhook without a title shows only this).
func (e Event) Text() string {
	var b strings.Builder
	b.WriteString(e.Headline)
	if e.Why != "" {
		b.WriteString(": " + e.Why)
	}
	b.WriteString("\n")
	if e.BackupID != "" {
		fmt.Fprintf(&b, "Backup: %s", e.BackupID)
		if e.BackupNote != "" {
			b.WriteString(" (" + e.BackupNote + ")")
		}
		b.WriteString("\n")
	}
	for _, d := range e.Details {
		b.WriteString(d + "\n")
	}
	for _, c := range e.Next {
		b.WriteString("Next: " + c + "\n")
	}
	return b.String()
}

// cmd is a docker maim command line for project p.
func cmd(p string, args ...string) string {
	if p == "" {
		return strings.Join(append([]string{"docker", "maim"}, args...), " ")
	}
	return strings.Join(append([]string{"docker", "maim", "-p", p}, args...), " ")
}

// named is "of PROJECT" or "" for a project never resolved.
func named(p string) string {
	if p == "" {
		return ""
	}
	return " of " + p
}

// maxWhy bounds a failure's text in a message: Discord takes 2,000 characters, Telegram
// 4,096; the rest is in the command's own output.
const maxWhy = 1000

// why is err's text, redacted, as the reason of a failure (cut at maxWhy bytes, on a rune).
func why(err error) string {
	if err == nil {
		return ""
	}
	s := redact.Text(err.Error())
	if len(s) > maxWhy {
		cut := maxWhy
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + " …"
	}
	return s
}

// Upgrade is the event of an upgrade of project p: its result (nil when it failed before
// it planned) and error. A dry run has none.
func Upgrade(p string, dryRun bool, r *api.UpgradeResult, err error) Event {
	if dryRun || (r != nil && r.Outcome == api.OutcomeDryRun) {
		return Event{}
	}
	if r == nil {
		return Event{Project: p, Failed: true, Headline: "upgrade" + named(p) + " failed before it began", Why: why(err), Next: []string{cmd(p, "status")}}
	}
	if r.Plan != nil && r.Plan.Project != "" {
		p = r.Plan.Project
	}
	ev := Event{Project: p, Failed: err != nil, BackupID: r.BackupID, Why: why(err)}
	var ue *api.UpgradeError
	if errors.As(err, &ue) {
		ev.Why = why(ue.Cause)
	}
	switch r.Outcome {
	case api.OutcomeRolledBack:
		ev.Headline, ev.BackupNote = "upgrade"+named(p)+" rolled back", "the project runs on it as before the upgrade"
		ev.Details = tried(r.Plan)
		ev.Next = []string{cmd(p, "status")}
	case api.OutcomeRollbackFailed, api.OutcomeFailed:
		ev.Headline = "upgrade" + named(p) + " failed and the project was NOT returned to its previous state"
		if r.Outcome == api.OutcomeRollbackFailed && ue != nil && ue.Rollback != nil {
			ev.Headline = "upgrade" + named(p) + " failed and its rollback failed too"
			ev.Details = append(ev.Details, "Rollback: "+why(ue.Rollback))
		}
		ev.BackupNote = "the data before the upgrade"
		ev.Details = append(tried(r.Plan), ev.Details...)
		ev.Next = r.Recovery
		if len(ev.Next) == 0 {
			ev.Next = []string{cmd(p, "rollback"), cmd(p, "status")}
		}
	case api.OutcomeRefused:
		ev.Failed, ev.Headline = true, "upgrade"+named(p)+" refused: nothing was changed"
		ev.Next = []string{cmd(p, "upgrade", "--dry-run")}
	case api.OutcomeNothingToDo:
		ev.Headline = "upgrade" + named(p) + ": nothing to upgrade"
	case api.OutcomeUpgraded:
		ev.Headline, ev.BackupNote = "upgrade"+named(p)+" done", "the data before the upgrade"
		ev.Details = changes(r.Plan)
		ev.Next = []string{cmd(p, "rollback") + " (to go back)"}
	default:
		ev.Headline = "upgrade" + named(p) + " ended " + string(r.Outcome)
		ev.Next = []string{cmd(p, "status")}
	}
	if err != nil && !ev.Failed {
		ev.Failed = true
	}
	return ev
}

// changes are the images a plan changes, one line each.
func changes(pl *api.Plan) []string {
	if pl == nil {
		return nil
	}
	var out []string
	for _, c := range pl.Changes {
		if c.Changed() {
			out = append(out, fmt.Sprintf("%s: %s -> %s", c.Service, c.From(), c.To()))
		}
	}
	return out
}

// tried are the changes of a failed upgrade: "Tried: bot: repo:1.0 -> repo:2.0".
func tried(pl *api.Plan) []string {
	out := changes(pl)
	for i := range out {
		out[i] = "Tried: " + out[i]
	}
	return out
}

// Backup is the event of the backup verb on project p.
func Backup(p string, r *api.BackupResult, err error) Event {
	if err != nil {
		return Event{Project: p, Failed: true, Headline: "backup" + named(p) + " failed", Why: why(err),
			Next: []string{cmd(p, "status"), cmd(p, "backups")}}
	}
	if r == nil {
		return Event{}
	}
	return Event{Project: r.Project, Headline: "backup" + named(r.Project) + " done", BackupID: r.ID,
		Next: []string{cmd(r.Project, "restore", r.ID) + " (to restore it)"}}
}

// Restore is the event of a restore of project p.
func Restore(p string, r *api.RestoreResult, err error) Event {
	ev := Event{Project: p, Failed: err != nil, Why: why(err)}
	if r != nil {
		if r.Project != "" {
			ev.Project, p = r.Project, r.Project
		}
		ev.BackupID = r.BackupID
	}
	var re *api.RestoreError
	switch {
	case errors.As(err, &re) && re.Recovery != nil:
		ev.Headline, ev.Why = "restore"+named(p)+" failed and left the project stopped", why(re.Cause)
		ev.Next = re.Recovery
	case err != nil:
		ev.Headline = "restore" + named(p) + " failed"
		if r != nil && r.SafetyID != "" {
			ev.Details = []string{"Safety backup: " + r.SafetyID}
		}
		ev.Next = []string{cmd(p, "status")}
	default:
		ev.Headline, ev.BackupNote = "restore"+named(p)+" done", "the data restored"
		if r != nil && r.SafetyID != "" {
			ev.Details = []string{"Safety backup: " + r.SafetyID + " (the data before the restore)"}
			ev.Next = []string{cmd(p, "rollback", r.SafetyID) + " (to undo it)"}
		}
	}
	return ev
}

// Rollback is the event of the rollback verb on project p (id: the backup asked for).
func Rollback(p, id string, r *api.RollbackResult, err error) Event {
	if err != nil {
		return Event{Project: p, Failed: true, Headline: "rollback" + named(p) + " failed", Why: why(err), BackupID: id,
			Next: []string{cmd(p, "status")}}
	}
	if r == nil || r.RollbackReport == nil {
		return Event{}
	}
	ev := Event{Project: r.Project, Headline: r.Project + " rolled back", BackupID: r.BackupID, BackupNote: "the data it runs on"}
	if r.BackupID == "" {
		ev.Headline = r.Project + ": rollback found nothing changed"
	}
	if r.Resolved != "" {
		ev.Details = append(ev.Details, "Resolved the interrupted "+r.Resolved)
	}
	if r.SafetyID != "" {
		ev.Details = append(ev.Details, "Safety backup: "+r.SafetyID+" (the data before the rollback)")
	}
	return ev
}

// RemoteCopy is the event of a backup's copy to the remote (--remote) of project p: a
// failure says the backup is on this host only; a success is sent with api.NotifyAlways.
func RemoteCopy(p string, c api.RemoteCopy) Event {
	if c.Copied {
		return Event{Project: p, Headline: "backup" + named(p) + " copied to " + c.Remote, BackupID: c.BackupID,
			BackupNote: "on this host and off it"}
	}
	ev := Event{Project: p, Failed: true, Headline: "remote copy failed: backup" + named(p) + " is on this host only",
		Why: redact.Text(c.Error), BackupID: c.BackupID, BackupNote: "complete and verified in the local backup dir",
		Details: []string{"Remote: " + c.Remote}, Next: []string{cmd(p, "backups", "--remote", c.Remote)}}
	if c.BackupID == "" {
		ev.BackupNote = ""
	}
	return ev
}
