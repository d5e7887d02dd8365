//go:build unix

package backup

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// envLockHolder makes the test binary a lock holder (TestMain-free helper process): it
// takes its engine's state lock and the backup dir's lock of project demo, says "locked"
// and holds both until its stdin closes.
const envLockHolder = "MAIM_TEST_LOCK_HOLDER"

func TestLockHolderProcess(t *testing.T) {
	spec := os.Getenv(envLockHolder)
	if spec == "" {
		t.Skip("helper process of TestBackupDirLockAcrossEnginesAndProcesses")
	}
	root, stateDir, _ := strings.Cut(spec, "|")
	unlockState, err := State{Dir: stateDir}.Lock("demo")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	defer unlockState()
	s := Local(root)
	s.Origin = Origin{EngineID: "ENGINE-B", Context: "prod", Host: "ssh://prod", UID: "1000", User: "bob"}
	unlock, err := s.Lock("demo")
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	defer unlock()
	fmt.Println("locked")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
}

// Two processes of two engines (two state dirs, so their state locks do not meet) that
// write one backup dir: the second is refused while the first holds the backup dir's lock,
// told who (pid, user, engine), and gets it once the first is gone, even killed.
func TestBackupDirLockAcrossEnginesAndProcesses(t *testing.T) {
	tmp := t.TempDir()
	root := filepath.Join(tmp, "backups")
	stateA, stateB := filepath.Join(tmp, "state", "ENGINE-A"), filepath.Join(tmp, "state", "ENGINE-B")

	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHolderProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envLockHolder+"="+root+"|"+stateB)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("holder said %q, %v", line, err)
	}

	// Engine A's own state lock is free: it is another engine's state dir.
	unlockState, err := State{Dir: stateA}.Lock("demo")
	if err != nil {
		t.Fatalf("engine A's state lock: %v", err)
	}
	defer unlockState()

	a := Local(root)
	a.Origin = Origin{EngineID: "ENGINE-A", Context: "default", UID: "1000", User: "alice"}
	_, err = a.Lock("demo")
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("A's backup dir lock while B holds it = %v, want ErrLocked", err)
	}
	for _, want := range []string{"pid " + strconv.Itoa(cmd.Process.Pid), "user bob", "engine ENGINE-B", "context prod", a.ProjectDir("demo")} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	// Another project of the same backup dir is free.
	unlockOther, err := a.Lock("other")
	if err != nil {
		t.Fatalf("another project: %v", err)
	}
	unlockOther()

	// The holder dies without unlocking: the kernel releases its lock.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	unlock, err := a.Lock("demo")
	if err != nil {
		t.Fatalf("A's lock after the holder died: %v", err)
	}
	holder, _ := os.ReadFile(filepath.Join(a.ProjectDir("demo"), ".lock"))
	if !strings.HasPrefix(string(holder), "pid "+strconv.Itoa(os.Getpid())+", user alice") {
		t.Errorf(".lock holds %q, want A's record", holder)
	}
	unlock()
	// The lock file is no backup.
	if l, err := a.ListAll("demo"); err != nil || len(l) != 0 {
		t.Errorf("ListAll = %v, %v; want no backups", l, err)
	}
}
