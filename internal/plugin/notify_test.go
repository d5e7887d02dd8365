package plugin

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/api"
)

// TestNotifyFlags: --notify is repeatable on the four verbs that change a project, with
// --notify-on; without it MAIM_NOTIFY is read; a bad --notify-on is a usage error before
// the service is called.
func TestNotifyFlags(t *testing.T) {
	t.Setenv("MAIM_NOTIFY", "")
	urls := []string{"ntfy://ntfy.sh/topic", "generic://127.0.0.1:9/hook?disabletls=yes"}
	flags := []string{"--notify", urls[0], "--notify", urls[1], "--notify-on", "always"}
	want := api.NotifyOptions{URLs: urls, On: api.NotifyAlways}
	for _, verb := range []string{"backup", "restore", "upgrade", "rollback"} {
		f := &fake{err: errors.New("fake")}
		execute(t, f, append([]string{verb}, flags...)...)
		if got := notifyOf(t, f.opts); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: notify options %+v, want %+v", verb, got, want)
		}
	}
	t.Setenv("MAIM_NOTIFY", "discord://tok@123,telegram://1:x@telegram?chats=a,b  ntfy://ntfy.sh/t")
	f := &fake{err: errors.New("fake")}
	execute(t, f, "upgrade")
	want = api.NotifyOptions{URLs: []string{"discord://tok@123", "telegram://1:x@telegram?chats=a,b", "ntfy://ntfy.sh/t"}, On: api.NotifyFailure}
	if got := notifyOf(t, f.opts); !reflect.DeepEqual(got, want) {
		t.Errorf("MAIM_NOTIFY: %+v, want %+v", got, want)
	}
	f = &fake{err: errors.New("fake")}
	execute(t, f, "backup", "--notify", "generic://h/x")
	if got := notifyOf(t, f.opts); !reflect.DeepEqual(got.URLs, []string{"generic://h/x"}) {
		t.Errorf("--notify does not override MAIM_NOTIFY: %+v", got)
	}
	f = &fake{}
	r := execute(t, f, "backup", "--notify-on", "sometimes")
	if r.code != 125 || len(f.calls) != 0 || !strings.Contains(r.errOut, "failure, always") {
		t.Errorf("--notify-on sometimes: exit %d, calls %v, %s", r.code, f.calls, r.errOut)
	}
}

func notifyOf(t *testing.T, opts any) api.NotifyOptions {
	t.Helper()
	switch o := opts.(type) {
	case api.BackupOptions:
		return o.Notify
	case api.RestoreOptions:
		return o.Notify
	case api.UpgradeOptions:
		return o.Notify
	case api.RollbackOptions:
		return o.Notify
	}
	t.Fatalf("options %T", opts)
	return api.NotifyOptions{}
}
