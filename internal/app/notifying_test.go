package app

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/api"
)

// Every notifying verb tells its targets when it fails before its session opens (here: no
// engine), naming the scope's project; a dry run of restore or rollback tells nothing; a bad
// --notify-on is a usage error before anything is tried.
func TestNotifyingVerbsTellAnOpenFailure(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	svc := New(deadEngineCLI(t, ""), api.Config{Progress: "quiet", Err: io.Discard})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sc := api.Scope{Name: "demo", BackupDir: t.TempDir()}
	no := api.NotifyOptions{URLs: []string{"generic+" + srv.URL + "/hook"}}
	calls := []struct {
		verb string
		tell bool
		call func(api.NotifyOptions) error
	}{
		{"backup", true, func(n api.NotifyOptions) error {
			_, err := svc.Backup(ctx, api.BackupOptions{Scope: sc, Notify: n})
			return err
		}},
		{"restore", true, func(n api.NotifyOptions) error {
			_, err := svc.Restore(ctx, api.RestoreOptions{Scope: sc, Notify: n})
			return err
		}},
		{"restore --dry-run", false, func(n api.NotifyOptions) error {
			_, err := svc.Restore(ctx, api.RestoreOptions{Scope: sc, Notify: n, DryRun: true})
			return err
		}},
		{"upgrade", true, func(n api.NotifyOptions) error {
			_, err := svc.Upgrade(ctx, api.UpgradeOptions{Scope: sc, Notify: n})
			return err
		}},
		{"rollback", true, func(n api.NotifyOptions) error {
			_, err := svc.Rollback(ctx, api.RollbackOptions{Scope: sc, Notify: n})
			return err
		}},
		{"rollback --dry-run", false, func(n api.NotifyOptions) error {
			_, err := svc.Rollback(ctx, api.RollbackOptions{Scope: sc, Notify: n, DryRun: true})
			return err
		}},
	}
	for _, c := range calls {
		mu.Lock()
		bodies = nil
		mu.Unlock()
		if err := c.call(no); !errors.Is(err, api.ErrEngine) {
			t.Errorf("%s: %v, want api.ErrEngine", c.verb, err)
		}
		mu.Lock()
		got := bodies
		mu.Unlock()
		switch {
		case c.tell && (len(got) != 1 || !strings.Contains(got[0], "demo")):
			t.Errorf("%s: told %q, want one message naming demo", c.verb, got)
		case !c.tell && len(got) != 0:
			t.Errorf("%s: told %q, want nothing", c.verb, got)
		}
		bad := no
		bad.On = "sometimes"
		var ue *api.UsageError
		if err := c.call(bad); !errors.As(err, &ue) {
			t.Errorf("%s --notify-on sometimes: %v, want a usage error", c.verb, err)
		}
	}
}
