package svchooks

import (
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	maim "github.com/docker-maim/docker-maim/internal/api"
)

func project(svcs map[string]types.ServiceConfig) *types.Project {
	p := &types.Project{Name: "p", Services: types.Services{}}
	for name, s := range svcs {
		s.Name = name
		p.Services[name] = s
	}
	return p
}

func one(t *testing.T, labels map[string]string, ext map[string]any) (*Hooks, error) {
	t.Helper()
	s := types.ServiceConfig{Extensions: ext}
	s.Labels = labels
	return FromProject(project(map[string]types.ServiceConfig{"db": s}))
}

// The labels of offen, watchtower and stack-back as their users write them.
func TestLabelsOfThePeers(t *testing.T) {
	h, err := one(t, map[string]string{
		LabelArchivePre:                         "pg_dumpall -U postgres > /backup/dump.sql",
		LabelArchivePre + ".user":               "postgres",
		LabelArchivePost:                        "rm /backup/dump.sql",
		LabelStopDuringBackup:                   "true",
		LabelPreUpdate:                          "/scripts/pre.sh",
		LabelPreUpdate + "-timeout":             "5",
		LabelPostUpdate:                         "/scripts/post.sh",
		"stack-back.postgres":                   "true",
		"stack-back.mysql":                      "false",
		"docker-volume-backup.copy-pre":         "echo",
		"com.centurylinklabs.watchtower.enable": "true",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Command{
		{Service: "db", When: maim.HookPreUpgrade, Command: "/scripts/pre.sh", Timeout: 5 * time.Minute, From: LabelPreUpdate},
		{Service: "db", When: maim.HookPreBackup, Command: "pg_dumpall -U postgres > /backup/dump.sql", User: "postgres", Timeout: DefaultTimeout, From: LabelArchivePre},
		{Service: "db", When: maim.HookPostBackup, Command: "rm /backup/dump.sql", Timeout: DefaultTimeout, From: LabelArchivePost},
		{Service: "db", When: maim.HookPostUpgrade, Command: "/scripts/post.sh", Timeout: DefaultTimeout, From: LabelPostUpdate},
	}
	if len(h.Commands) != len(want) {
		t.Fatalf("commands %+v, want %+v", h.Commands, want)
	}
	for i := range want {
		if h.Commands[i] != want[i] {
			t.Errorf("command %d = %+v, want %+v", i, h.Commands[i], want[i])
		}
	}
	if !StopsDuringBackup(h, "db") || StopsDuringBackup(h, "app") {
		t.Errorf("stop-during-backup = %v", h.StopDuringBackup)
	}
	if len(h.Dumps) != 1 || h.Dumps[0].Kind != "postgres" || h.Dumps[0].Supported {
		t.Errorf("dumps = %+v, want postgres only, not supported", h.Dumps)
	}
	// offen's copy-pre is not ours: listed as ignored; watchtower's enable is no lifecycle label.
	if len(h.Ignored) != 1 || !strings.Contains(h.Ignored[0], "docker-volume-backup.copy-pre") {
		t.Errorf("ignored = %q", h.Ignored)
	}
}

// x-maim's keys: a string or a mapping; they replace the label of the same moment; an
// empty command turns the label's off; hook_timeout is the service's default.
func TestExtensionKeys(t *testing.T) {
	h, err := one(t, map[string]string{LabelArchivePre: "from-label", LabelArchivePost: "cleanup"}, map[string]any{
		ExtensionKey: map[string]any{
			KeyHookTimeout:      "2m",
			KeyPreBackup:        map[string]any{"command": "from-key", "user": "999:999", "timeout": "90s"},
			KeyPostBackup:       "",
			KeyPreUpgrade:       "true",
			KeyStopDuringBackup: "yes-please-not-a-bool",
			"ready_log":         "someone else's key",
		},
	})
	if err == nil || !strings.Contains(err.Error(), "stop_during_backup") {
		t.Fatalf("a stop_during_backup that is no boolean: err %v", err)
	}
	h, err = one(t, map[string]string{LabelArchivePre: "from-label", LabelArchivePost: "cleanup", LabelStopDuringBackup: "true"}, map[string]any{
		ExtensionKey: map[string]any{
			KeyHookTimeout:      "2m",
			KeyPreBackup:        map[string]any{"command": "from-key", "user": "999:999", "timeout": "90s"},
			KeyPostBackup:       "",
			KeyPreUpgrade:       "true",
			KeyStopDuringBackup: false,
			"ready_log":         "someone else's key",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Command{}
	for _, c := range h.Commands {
		got[c.When] = c
	}
	if c := got[maim.HookPreBackup]; c.Command != "from-key" || c.User != "999:999" || c.Timeout != 90*time.Second || c.From != "x-maim.pre_backup" {
		t.Errorf("pre-backup = %+v", c)
	}
	if c, ok := got[maim.HookPostBackup]; ok {
		t.Errorf("an empty post_backup did not turn the label off: %+v", c)
	}
	if c := got[maim.HookPreUpgrade]; c.Timeout != 2*time.Minute {
		t.Errorf("pre-upgrade timeout %s, want hook_timeout's 2m", c.Timeout)
	}
	if StopsDuringBackup(h, "db") {
		t.Error("stop_during_backup: false did not override the label")
	}
}

// Hostile and wrong values are refused, naming the service and the label; nothing runs on
// a guess.
func TestHostileValues(t *testing.T) {
	huge := strings.Repeat("x", MaxCommand+1)
	for name, tc := range map[string]struct {
		labels map[string]string
		ext    map[string]any
		want   string
	}{
		"huge command":         {labels: map[string]string{LabelArchivePre: huge}, want: "more than"},
		"NUL byte":             {labels: map[string]string{LabelPreUpdate: "echo a\x00b"}, want: "NUL"},
		"user with newline":    {labels: map[string]string{LabelArchivePre: "x", LabelArchivePre + ".user": "root\nUSER evil"}, want: "not a user name"},
		"user with spaces":     {labels: map[string]string{LabelArchivePost: "x", LabelArchivePost + ".user": "a b"}, want: "not a user name"},
		"timeout not a number": {labels: map[string]string{LabelPreUpdate: "x", LabelPreUpdate + "-timeout": "5m"}, want: "not a number of minutes"},
		"timeout zero":         {labels: map[string]string{LabelPostUpdate: "x", LabelPostUpdate + "-timeout": "0"}, want: "needs a timeout"},
		"timeout negative":     {labels: map[string]string{LabelPostUpdate: "x", LabelPostUpdate + "-timeout": "-3"}, want: "needs a timeout"},
		"timeout huge":         {labels: map[string]string{LabelPostUpdate: "x", LabelPostUpdate + "-timeout": "99999999999"}, want: "longer than"},
		"stack-back not bool":  {labels: map[string]string{"stack-back.postgres": "maybe"}, want: "not a boolean"},
		"x-maim not a map":     {ext: map[string]any{ExtensionKey: "yes"}, want: "must be a mapping"},
		"unknown command key":  {ext: map[string]any{ExtensionKey: map[string]any{KeyPreBackup: map[string]any{"command": "x", "shell": "bash"}}}, want: "unknown key"},
		"command not a string": {ext: map[string]any{ExtensionKey: map[string]any{KeyPreUpgrade: 42}}, want: "must be a command"},
		"bad hook_timeout":     {ext: map[string]any{ExtensionKey: map[string]any{KeyHookTimeout: "forever"}}, want: "not a duration"},
		"timeout over a day":   {ext: map[string]any{ExtensionKey: map[string]any{KeyPreBackup: map[string]any{"command": "x", "timeout": "25h"}}}, want: "not a timeout"},
		"dump kind unknown":    {ext: map[string]any{ExtensionKey: map[string]any{KeyDump: "oracle"}}, want: "not one of"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := one(t, tc.labels, tc.ext)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "service db: ") {
				t.Fatalf("err = %v, want one naming service db that says %q", err, tc.want)
			}
			if len(err.Error()) > 400 {
				t.Errorf("the error quotes the whole value (%d bytes)", len(err.Error()))
			}
		})
	}
}

// A command may span lines (a shell script); whitespace alone is no command; offen's
// stop-during-backup value may name a group of its own (anything but false).
func TestMultilineAndEmpty(t *testing.T) {
	h, err := one(t, map[string]string{
		LabelArchivePre:       "set -e\npg_dump > /d\n",
		LabelArchivePost:      "  \n ",
		LabelStopDuringBackup: "group-a",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Commands) != 1 || h.Commands[0].Command != "set -e\npg_dump > /d\n" {
		t.Errorf("commands = %+v", h.Commands)
	}
	if !StopsDuringBackup(h, "db") {
		t.Error("stop-during-backup=group-a is not a stop")
	}
	h, _ = one(t, map[string]string{LabelStopDuringBackup: "false"}, nil)
	if StopsDuringBackup(h, "db") {
		t.Error("stop-during-backup=false is a stop")
	}
}

func TestTailKeepsTheEnd(t *testing.T) {
	var tl tail
	tl.Write([]byte(strings.Repeat("a", maxOutput)))
	tl.Write([]byte("\nlast line\r\n"))
	s := tl.String()
	if !strings.HasPrefix(s, "...") || !strings.HasSuffix(s, " | last line") || len(s) > maxOutput+10 {
		t.Errorf("tail = %q...", s[:20])
	}
}
