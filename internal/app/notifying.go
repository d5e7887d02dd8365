package app

import (
	"context"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/notify"
)

// notifying is the start every verb that tells its --notify targets how it ended shares
// (backup, restore, upgrade, rollback): the notifier of its options (embedded; nil without
// targets, which sends nothing) and the name of the project the notification is about. The
// verb itself defers the send of its own event right after newNotifying, so a failure to
// open the session is told too; its event is built from name and the verb's own error
// (ownError: finish tells a failed remote copy).
type notifying struct {
	*notify.Notifier
	// name is the scope's name until openNotifying resolves the project, then its name.
	name string
}

// newNotifying is the notifier of o (a bad URL or --notify-on is a usage error, found
// before the engine is contacted), about sc's project.
func (s *service) newNotifying(o maim.NotifyOptions, sc maim.Scope) (*notifying, error) {
	n, err := notify.New(o, s.cfg.Err)
	if err != nil {
		return nil, err
	}
	return &notifying{Notifier: n, name: sc.Name}, nil
}

// openNotifying opens the session of a notifying verb: the project under lock (nt names it
// from then on, also when the open fails after resolving it), its remote (probe: the verb
// will write there) and the verb's keys applied. When the remote fails the session is
// closed before the error returns, as the verb's deferred close did, before the verb's
// deferred notification.
func (s *service) openNotifying(ctx context.Context, nt *notifying, sc maim.Scope, lock lockMode, probe bool, k keys) (*session, error) {
	ss, err := s.open(ctx, sc, lock)
	if ss != nil {
		nt.name = ss.proj.Name
	}
	if err != nil {
		return nil, err
	}
	if err := ss.openRemote(ctx, sc, probe); err != nil {
		ss.close()
		return nil, err
	}
	ss.applyKeys(k)
	return ss, nil
}
