package backup

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// Two engines (a laptop's default engine and ssh://prod, Docker Desktop beside the native
// engine) with a project of the same name share one backup dir: each store sees, lists
// and picks only its engine's backups; an explicit ID still reaches the other's.
func TestStoresOfTwoEnginesShareOneDirApart(t *testing.T) {
	root := filepath.Join(t.TempDir(), "backups")
	a := Local(root)
	a.Origin = Origin{EngineID: "ENGINE-A", Context: "default", Host: "unix:///var/run/docker.sock", UID: "1000", User: "alice"}
	b := Local(root)
	b.Origin = Origin{EngineID: "ENGINE-B", Context: "prod", Host: "ssh://prod", UID: "1000", User: "alice"}
	legacy := Local(root) // a build that recorded no origin

	old := fakeBackup(t, legacy, "demo", t0, map[string]string{"data": "legacy"}).ID
	ofA := fakeBackup(t, a, "demo", t0.Add(time.Minute), map[string]string{"data": "a"}).ID
	ofB := fakeBackup(t, b, "demo", t0.Add(2*time.Minute), map[string]string{"data": "b"}).ID

	en, err := a.Get("demo", ofA)
	if err != nil {
		t.Fatal(err)
	}
	if o := en.Manifest.Origin; o == nil || *o != a.Origin {
		t.Fatalf("manifest origin = %+v, want the store's %+v", o, a.Origin)
	}
	if en.Owner != OwnerThis {
		t.Errorf("A's own backup: owner %q, want %q", en.Owner, OwnerThis)
	}

	ids := func(es []Entry) (out []string) {
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	listA, err := a.List("demo")
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(listA); len(got) != 2 || got[0] != old || got[1] != ofA {
		t.Errorf("A lists %v, want the unrecorded %s and its own %s (never B's %s)", got, old, ofA, ofB)
	}
	if listA[0].Owner != OwnerUnrecorded {
		t.Errorf("the old backup: owner %q, want %q", listA[0].Owner, OwnerUnrecorded)
	}
	all, err := a.ListAll("demo")
	if err != nil || len(all) != 3 || all[2].ID != ofB || all[2].Owner != OwnerOtherEngine {
		t.Errorf("ListAll = %v, %v; want all three, B's as another engine's", ids(all), err)
	}

	// Newest without an ID: B's is newer, A never picks it, nor the unrecorded one.
	if en, err := a.Get("demo", ""); err != nil || en.ID != ofA {
		t.Errorf("A's latest = %s, %v; want %s", en.ID, err, ofA)
	}
	if en, err := b.Get("demo", "latest"); err != nil || en.ID != ofB {
		t.Errorf("B's latest = %s, %v; want %s", en.ID, err, ofB)
	}
	// An explicit ID reaches another engine's backup, which says whose it is.
	if en, err := a.Get("demo", ofB); err != nil || en.Owner != OwnerOtherEngine || en.Manifest.Origin.Context != "prod" {
		t.Errorf("A's Get(%s) = %+v, %v; want B's backup marked another engine's", ofB, en.Owner, err)
	}

	// A store of a third engine with only the unrecorded backup has no newest.
	c := Local(root)
	c.Origin = Origin{EngineID: "ENGINE-C"}
	if en, err := c.Get("demo", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("C's latest = %s, %v; want ErrNotFound (the unrecorded backup is picked only by ID)", en.ID, err)
	}

	// The same engine and another user (root's cron beside the user): listed and picked,
	// marked as another user's.
	root0 := Local(root)
	root0.Origin = Origin{EngineID: "ENGINE-A", UID: "0", User: "root"}
	if en, err := root0.Get("demo", ""); err != nil || en.ID != ofA || en.Owner != OwnerOtherUser {
		t.Errorf("root's latest on engine A = %s (%s), %v; want %s, another user's", en.ID, en.Owner, err, ofA)
	}

	// An unbound store (no origin) sees every backup as its own, as before.
	if l, err := legacy.List("demo"); err != nil || len(l) != 3 || l[2].Owner != OwnerThis {
		t.Errorf("unbound List = %v, %v", ids(l), err)
	}
}
