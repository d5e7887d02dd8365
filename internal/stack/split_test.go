package stack

import (
	"reflect"
	"testing"

	"github.com/docker-maim/docker-maim/internal/project"
)

// TestSplit: the named services' containers on one side, everything else (the one-off
// containers too, even of a named service) on the other, each in the order they ran.
func TestSplit(t *testing.T) {
	r := project.Running{
		Services: []string{"db", "cache", "app"},
		IDs:      map[string][]string{"db": {"d1"}, "cache": {"c1"}, "app": {"a1", "a2"}},
		OneOffs:  map[string][]string{"db": {"o1"}},
	}
	these, rest := Split(r, []string{"db"})
	if want := (project.Running{Services: []string{"db"}, IDs: map[string][]string{"db": {"d1"}}}); !reflect.DeepEqual(these, want) {
		t.Errorf("these = %+v, want %+v", these, want)
	}
	if want := (project.Running{Services: []string{"cache", "app"}, IDs: map[string][]string{"cache": {"c1"}, "app": {"a1", "a2"}}, OneOffs: r.OneOffs}); !reflect.DeepEqual(rest, want) {
		t.Errorf("rest = %+v, want %+v", rest, want)
	}
	if these, rest := Split(r, nil); !these.Empty() || !reflect.DeepEqual(rest.Services, r.Services) || !reflect.DeepEqual(rest.IDs, r.IDs) {
		t.Errorf("Split(nil) = %+v, %+v: want everything in rest", these, rest)
	}
}
