package plugin

import (
	"context"
	"errors"
	"strings"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker/cli/cli"
)

// Exit codes (documented in README.md).
const (
	ExitOK             = 0
	ExitError          = 1   // any other failure
	ExitVerify         = 3   // a backup failed verification; nothing was changed
	ExitLocked         = 4   // another docker-maim command holds the project
	ExitEngine         = 5   // the Docker engine is unreachable
	ExitNotFound       = 6   // not a compose project, unknown project or backup ID
	ExitRolledBack     = 10  // upgrade failed and was rolled back: the project runs as before
	ExitRollbackFailed = 11  // upgrade failed and the rollback failed too: recover by hand
	ExitRefused        = 12  // upgrade or restore refused before anything changed (breaking change, bad config, moved source, backup dir)
	ExitRemote         = 13  // the local backup is complete but its remote copy failed, or the remote is unreachable (--require-remote: refused before anything stopped)
	ExitIdentity       = 14  // encrypted data and no (matching) identity: nothing was changed
	ExitUsage          = 125 // bad flags or arguments
	ExitCancelled      = 130 // interrupted (SIGINT, SIGTERM)
	ExitHangup         = 129 // cancelled by SIGHUP (the terminal or SSH session went away)
)

// ErrEngine marks an unreachable engine.
var ErrEngine = api.ErrEngine

// codedError carries its own exit code.
type codedError struct {
	code int
	err  error
}

func (c codedError) Error() string { return c.err.Error() }
func (c codedError) Unwrap() error { return c.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return codedError{code: code, err: err}
}

// exitCode is the one mapping of errors to exit codes, for text and JSON output alike.
func exitCode(err error) int {
	var ce codedError
	var ue usageError
	var aue *api.UsageError
	var se cli.StatusError
	var upe *api.UpgradeError
	var re *api.RestoreError
	var ve *api.VerifyError
	switch {
	case errors.As(err, &ce):
		return ce.code
	case errors.As(err, &ue), errors.As(err, &aue):
		return ExitUsage
	case errors.As(err, &upe):
		switch upe.Outcome {
		case api.OutcomeRolledBack:
			return ExitRolledBack
		case api.OutcomeRollbackFailed, api.OutcomeFailed:
			return ExitRollbackFailed
		case api.OutcomeRefused:
			return ExitRefused
		}
	case errors.As(err, &re) && re.Recovery != nil:
		return ExitRollbackFailed
	case errors.Is(err, api.ErrInterrupted):
		return ExitRefused
	case errors.Is(err, api.ErrRemote):
		return ExitRemote
	case errors.Is(err, api.ErrNoIdentity):
		return ExitIdentity
	case errors.As(err, &ve):
		return ExitVerify
	case errors.Is(err, context.Canceled):
		return ExitCancelled
	case errors.Is(err, ErrEngine):
		return ExitEngine
	case errors.Is(err, api.ErrLocked):
		return ExitLocked
	case errors.Is(err, api.ErrVerify):
		return ExitVerify
	case errors.Is(err, api.ErrRefused):
		return ExitRefused
	case errors.Is(err, api.ErrNotProject), errors.Is(err, api.ErrUnknownProject), errors.Is(err, api.ErrNotFound):
		return ExitNotFound
	case errors.As(err, &se):
		if se.StatusCode != 0 {
			return se.StatusCode
		}
		if strings.Contains(se.Status, "unknown flag") || strings.Contains(se.Status, "unknown command") {
			return ExitUsage
		}
	}
	if strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag") ||
		strings.Contains(err.Error(), "accepts at most") || strings.HasPrefix(err.Error(), "invalid argument") || strings.Contains(err.Error(), "unknown shorthand flag") {
		return ExitUsage
	}
	return ExitError
}

// errorLine is the error as one line.
func errorLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}
