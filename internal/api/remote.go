package api

import "errors"

// ErrRemote means the local part of a verb is done (a backup is complete and verified in
// the local store) but its copy to the remote (--remote, MAIM_REMOTE) failed or the
// remote could not be reached; with --require-remote, that the verb refused before
// anything stopped because the remote cannot be written. The CLI's exit code 13.
var ErrRemote = errors.New("remote copy failed")

// Where a backup lives (BackupRow.Locations).
const (
	LocationLocal  = "local"
	LocationRemote = "remote"
)

// RemoteOptions name the off-host copy of backups every verb that writes or reads
// backups shares (--remote, --require-remote, MAIM_REMOTE).
type RemoteOptions struct {
	// URL is the remote repository: s3://BUCKET/PREFIX (endpoint and credentials from the
	// AWS environment), file:///ABS/PATH or /ABS/PATH (a mounted NAS or USB disk); ""
	// for none.
	URL string
	// Require makes a remote that cannot be written fail the verb before anything stops,
	// and makes an upgrade wait for the copy before the new version starts.
	Require bool
}

// RemoteCopy says how the copy of one backup to the remote went.
type RemoteCopy struct {
	// Remote names the remote repository (no credentials).
	Remote string `json:"remote"`
	// BackupID is the backup copied.
	BackupID string `json:"backup_id"`
	// Copied: every archive and then the manifest are on the remote.
	Copied bool `json:"copied"`
	// Sealed: the archives left the host encrypted: sealed on the way to the age
	// recipients (--encrypt-to, MAIM_AGE_RECIPIENTS), or sealed already (--encrypt-local).
	Sealed bool `json:"sealed,omitempty"`
	// Bytes are the bytes sent (archives already on the remote, from an interrupted
	// copy, are not sent again).
	Bytes int64 `json:"bytes"`
	// Skipped are the files already on the remote (a resumed copy).
	Skipped int `json:"skipped,omitempty"`
	// Error is why the copy failed ("" when it did not).
	Error string `json:"error,omitempty"`
}

// Fetched says a restore or rollback read its backup from the remote: the local copy was
// missing or failed its hashes, so it was downloaded into the local store and checked
// first.
type Fetched struct {
	// Remote names the remote repository.
	Remote string `json:"remote"`
	// BackupID is the backup downloaded.
	BackupID string `json:"backup_id"`
	// Why the local copy could not be used.
	Why string `json:"why"`
	// Bytes downloaded.
	Bytes int64 `json:"bytes"`
}
