//go:build unix

package backup

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestLockExclusiveNamesHolderAndReleases(t *testing.T) {
	s := State{Dir: filepath.Join(t.TempDir(), "state", "engine")}
	unlock, err := s.Lock("demo")
	if err != nil {
		t.Fatal(err)
	}
	lockPath := filepath.Join(s.ProjectDir("demo"), ".lock")
	if m := mode(t, lockPath); m != 0o600 {
		t.Errorf(".lock mode %o, want 600", m)
	}
	holder, _ := os.ReadFile(lockPath)
	if !strings.HasPrefix(string(holder), "pid "+strconv.Itoa(os.Getpid())+": ") {
		t.Errorf(".lock holds %q, want the holder's pid and command", holder)
	}

	_, err = s.Lock("demo")
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Lock = %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) || !strings.Contains(err.Error(), `"demo"`) {
		t.Errorf("error %q does not name the holder and project", err)
	}
	// the refused attempt must not have wiped the holder's record
	if again, _ := os.ReadFile(lockPath); string(again) != string(holder) {
		t.Errorf("holder record changed to %q by a refused Lock", again)
	}

	// another project is independent
	unlockOther, err := s.Lock("other")
	if err != nil {
		t.Fatalf("Lock of another project: %v", err)
	}
	unlockOther()

	unlock()
	unlock2, err := s.Lock("demo")
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	unlock2()
}

func TestLockUnknownHolder(t *testing.T) {
	s := State{Dir: filepath.Join(t.TempDir(), "state", "engine")}
	unlock, err := s.Lock("demo")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	// a holder that left no record
	if err := os.Truncate(filepath.Join(s.ProjectDir("demo"), ".lock"), 0); err != nil {
		t.Fatal(err)
	}
	_, err = s.Lock("demo")
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "another process") {
		t.Fatalf("err = %v", err)
	}
}
