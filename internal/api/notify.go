package api

// NotifyOptions say where and when a verb that changes a project (backup, restore,
// upgrade, rollback) sends a notification of how it ended.
type NotifyOptions struct {
	// URLs are the notification services in shoutrrr's URL form (ntfy://, gotify://,
	// discord://, telegram://, slack://, generic:// for a webhook, ...): --notify, else
	// MAIM_NOTIFY. None: nothing is sent.
	URLs []string
	// On says which outcomes are sent: NotifyFailure ("" too) or NotifyAlways.
	On NotifyOn
}

// NotifyOn says which outcomes a notification is sent for (--notify-on).
type NotifyOn string

const (
	// NotifyFailure sends failures only: a verb that failed, an upgrade refused, rolled
	// back or left failed.
	NotifyFailure NotifyOn = "failure"
	// NotifyAlways sends successes too (a backup made, an upgrade done).
	NotifyAlways NotifyOn = "always"
)
