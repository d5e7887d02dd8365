package helper

import (
	"os"
	"sync/atomic"
)

// failpointState is where FailpointEnv stands in the calling process (docker-maim, which
// passes it into its helper containers): no helper took it yet (failpointFree), the stages
// of a two-pass restore have it (failpointStaged), or a restore helper ran, and nothing
// after it takes it (failpointSpent).
var failpointState atomic.Int32

const (
	failpointFree int32 = iota
	failpointStaged
	failpointSpent
)

// FailpointFor is the environment entry (FailpointEnv=value) the helper run with args gets,
// when the calling process has FailpointEnv set and the run takes it: the helper holds after
// it has written its first MiB, and a test cuts the caller off there. Every stage
// (diffstage, not its removal, diffstage --drop) gets it until a restore helper ran: a stage
// with less than a MiB to write is never held, so the stage that holds is the first one
// with data enough, which need not be the run's first stage. A restore or differential
// restore gets it when no helper of the process had it before: the first restore of a run
// without a stage, never the pass two after a stage nor the put-back of the safety backup
// after either.
func FailpointFor(args []string) (string, bool) {
	fp := os.Getenv(FailpointEnv)
	if fp == "" || len(args) == 0 {
		return "", false
	}
	take := false
	switch args[0] {
	case "restore", "diffrestore":
		take = failpointState.CompareAndSwap(failpointFree, failpointSpent)
		failpointState.Store(failpointSpent)
	case "diffstage":
		if len(args) > 1 && args[1] == "--drop" { // DropStage's args begin "diffstage", "--drop"
			return "", false
		}
		take = failpointState.CompareAndSwap(failpointFree, failpointStaged) || failpointState.Load() == failpointStaged
	}
	if !take {
		return "", false
	}
	return FailpointEnv + "=" + fp, true
}
