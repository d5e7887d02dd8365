package app

import (
	"errors"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/svchooks"
)

// The dumps of a backup: the project's requests and --dump merged, each service once, in
// name order; --dump of a service the project lacks is refused (exit 12) before anything.
func TestReadDumps(t *testing.T) {
	p := &project.Project{Project: &types.Project{Services: types.Services{
		"db": {Name: "db"}, "cache": {Name: "cache"}, "app": {Name: "app"},
	}}}
	h := &svchooks.Hooks{Dumps: []maim.DumpRequest{{Service: "db", Kind: "postgres", From: "stack-back.postgres"}}}
	tx := &btxn{p: p, dumpFlag: []string{"db", "cache"}}
	if err := tx.readDumps(h); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range tx.dumps {
		if !d.Supported {
			t.Errorf("%+v: not marked taken", d)
		}
		got = append(got, d.Service+" "+d.Kind+" "+d.From)
	}
	if want := "cache  --dump|db postgres stack-back.postgres"; strings.Join(got, "|") != want {
		t.Errorf("dumps %q, want %q", strings.Join(got, "|"), want)
	}
	tx = &btxn{p: p, dumpFlag: []string{"nosuch"}}
	err := tx.readDumps(&svchooks.Hooks{})
	if err == nil || !strings.Contains(err.Error(), "no service nosuch") {
		t.Fatalf("--dump nosuch: %v", err)
	}
	if !errors.Is(refused{err}, maim.ErrRefused) {
		t.Error("not a refusal")
	}
}
