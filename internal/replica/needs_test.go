package replica

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/backup"
)

// manifests is a set of manifests by ID, each naming what it needs: an incremental
// source's base ("b:ID") or an unchanged source's ref ("r:ID").
func manifests(needs map[string][]string) func(string) (*backup.Manifest, error) {
	return func(id string) (*backup.Manifest, error) {
		ns, ok := needs[id]
		if !ok {
			return nil, fmt.Errorf("backup %s: %w", id, fs.ErrNotExist)
		}
		m := &backup.Manifest{ID: id}
		for i, n := range ns {
			s := backup.Source{}
			s.Name = fmt.Sprintf("s%d", i)
			if ref, ok := strings.CutPrefix(n, "r:"); ok {
				s.Ref = ref
			} else {
				s.Base = &backup.Base{ID: strings.TrimPrefix(n, "b:")}
			}
			m.Sources = append(m.Sources, s)
		}
		return m, nil
	}
}

// TestNeeds: the closure of what a backup builds on, bases first, each once.
func TestNeeds(t *testing.T) {
	for _, tc := range []struct {
		name  string
		needs map[string][]string
		want  []string
	}{
		{"full backup", map[string][]string{"A": nil}, nil},
		{"a chain of three", map[string][]string{"C": {"b:B"}, "B": {"b:A"}, "A": nil}, []string{"A", "B"}},
		{"a shared base", map[string][]string{
			"D": {"b:C", "r:B", "b:A"}, "C": {"b:A"}, "B": {"b:A"}, "A": nil,
		}, []string{"A", "C", "B"}},
		{"a ref and a base of one source's chain", map[string][]string{
			"D": {"r:C"}, "C": {"b:B", "r:A"}, "B": {"b:A"}, "A": nil,
		}, []string{"A", "B", "C"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := "A"
			for id := range tc.needs {
				root = max(root, id)
			}
			got, err := Needs(root, manifests(tc.needs))
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("Needs(%s) = %v, %v; want %v", root, got, err, tc.want)
			}
		})
	}
}

// TestNeedsRefuses: a loop and an over-long chain are refused with no list; a missing
// manifest is a *MissingError that names who needs it, with the list still whole.
func TestNeedsRefuses(t *testing.T) {
	if got, err := Needs("C", manifests(map[string][]string{"C": {"b:B"}, "B": {"b:A"}, "A": {"r:C"}})); err == nil || !errors.Is(err, errCycle) || got != nil {
		t.Errorf("a loop: %v, %v; want errCycle and no list", got, err)
	}
	long := map[string][]string{"0": nil}
	for i := 1; i <= backup.MaxChain+1; i++ {
		long[fmt.Sprint(i)] = []string{fmt.Sprintf("b:%d", i-1)}
	}
	if got, err := Needs(fmt.Sprint(backup.MaxChain+1), manifests(long)); err == nil || got != nil {
		t.Errorf("a chain of %d: %d listed, err %v; want refused", backup.MaxChain+2, len(got), err)
	}

	got, err := Needs("C", manifests(map[string][]string{"C": {"b:B", "r:X"}, "B": {"b:A"}}))
	var me *MissingError
	if !errors.As(err, &me) || me.ID != "A" || me.By != "B" || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing base: err %v; want a MissingError of A needed by B", err)
	}
	if want := []string{"A", "B", "X"}; !slices.Equal(got, want) {
		t.Errorf("with A and X missing: %v; want %v (listed, not followed)", got, want)
	}
	got, err = Needs("Z", manifests(map[string][]string{}))
	if !errors.As(err, &me) || me.ID != "Z" || me.By != "" || len(got) != 0 {
		t.Errorf("the backup itself missing: %v, %v; want a MissingError of Z by \"\" and nothing listed", got, err)
	}
}
