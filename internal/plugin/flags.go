package plugin

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/spf13/pflag"
)

// choiceFlag is a string flag limited to a set of values. It is the one way every
// choice-valued flag (--format, --progress, --compression, --report, config merge's
// --format) is validated: while the flags are parsed, so a bad value is a usage error
// (exit code 125 through the root's flag error function) before anything contacts the
// engine. Aliases are accepted values left out of the help text.
type choiceFlag struct {
	value   string
	choices []string
	aliases []string
	// templates: a Go template (anything with "{{") is a value too, checked as
	// docker/cli's formatter parses it (the listing commands' --format).
	templates bool
}

func newChoice(def string, choices ...string) *choiceFlag {
	return &choiceFlag{value: def, choices: choices}
}

func (c *choiceFlag) String() string { return c.value }
func (c *choiceFlag) Type() string   { return "string" }
func (c *choiceFlag) Set(s string) error {
	if c.templates && isTemplate(s) {
		if err := checkTemplate(s); err != nil {
			return err
		}
		c.value = s
		return nil
	}
	for _, ch := range append(append([]string{}, c.choices...), c.aliases...) {
		if s == ch {
			c.value = s
			return nil
		}
	}
	return fmt.Errorf("must be one of %s", strings.Join(c.choices, ", "))
}

// Output formats. "table" is the text format of the listing commands (backups, status).
const (
	formatText  = "text"
	formatTable = "table"
	formatJSON  = "json"
)

// formatFlag adds --format (text or table, or json) with its default.
func formatFlag(fs *pflag.FlagSet, def string) *choiceFlag {
	c := newChoice(def, formatText, formatJSON)
	if def == formatTable {
		c.choices = []string{formatTable, formatJSON}
		c.aliases = []string{formatText}
		c.templates = true
	} else {
		c.aliases = []string{formatTable}
	}
	usage := "Output `FORMAT`: " + strings.Join(c.choices, " or ") + " (JSON: docs/json.md)"
	if c.templates {
		usage = "Output `FORMAT`: table, json, or a Go template as docker's ('{{json .}}'; 'table ' before it adds headers; the fields: docs/json.md)"
	}
	fs.Var(c, "format", usage)
	return c
}

func (c *choiceFlag) json() bool { return c.value == formatJSON }

// compressionFlag adds --compression; what is what is compressed ("Archive", "Backup").
func compressionFlag(fs *pflag.FlagSet, what string) *choiceFlag {
	c := newChoice(string(api.Zstd), "zstd", "gzip", "none")
	c.aliases = []string{"zst", "gz", "tar"}
	fs.Var(c, "compression", what+" compression `CODEC`: "+strings.Join(c.choices, ", "))
	return c
}

// compression is the flag's value as an api.Compression (the flag has validated it).
func (c *choiceFlag) compression() api.Compression {
	comp, err := api.ParseCompression(c.value)
	if err != nil {
		panic(err) // unreachable: the choices are what ParseCompression accepts
	}
	return comp
}

// healthFlags are the health gate's flags, shared by upgrade, restore and rollback.
type healthFlags struct {
	Timeout          time.Duration
	StablePeriod     time.Duration
	MigrationTimeout time.Duration
}

func (h *healthFlags) add(fs *pflag.FlagSet) {
	durationVar(fs, &h.Timeout, "timeout", api.DefaultTimeout, "Give the services up to `DURATION` in all to prove healthy")
	durationVar(fs, &h.StablePeriod, "stable-period", api.DefaultStablePeriod, "A service without a healthcheck must keep running, without restarts, for `DURATION` (0s: running once is enough)")
	durationVar(fs, &h.MigrationTimeout, "migration-timeout", api.DefaultMigrationTimeout, "Give a MaiBot core whose log keeps growing (a database migration) up to `DURATION` to log its ready banner; --timeout still ends a silent wait")
}

// options are the gate's api options. A zero --stable-period means zero: the api's zero
// is "the default" (15s), so it becomes the negative value that says "running once is
// enough"; the default itself arrives as the flag's default value.
func (h *healthFlags) options() api.HealthOptions {
	stable := h.StablePeriod
	if stable == 0 {
		stable = -1
	}
	return api.HealthOptions{Timeout: h.Timeout, StablePeriod: stable, MigrationTimeout: h.MigrationTimeout}
}

// notifyFlags are the notification flags, shared by backup, restore, upgrade and
// rollback.
type notifyFlags struct {
	URLs []string
	On   *choiceFlag
}

func (n *notifyFlags) add(fs *pflag.FlagSet) {
	fs.StringArrayVar(&n.URLs, "notify", nil, "Send how the command ended to the notification service `URL` (shoutrrr style: ntfy://, gotify://, discord://, telegram://, slack://, generic://; repeatable; default: MAIM_NOTIFY, space- or comma-separated)")
	n.On = newChoice(string(api.NotifyFailure), string(api.NotifyFailure), string(api.NotifyAlways))
	fs.Var(n.On, "notify-on", "Notify on `WHEN`: failure (a failure, a refused or rolled-back upgrade) or always (successes too)")
}

// options are the api options: --notify, else the URLs MAIM_NOTIFY lists; none (the zero
// options) without either.
func (n *notifyFlags) options() api.NotifyOptions {
	urls := n.URLs
	if len(urls) == 0 {
		urls = splitNotifyURLs(os.Getenv("MAIM_NOTIFY"))
	}
	if len(urls) == 0 {
		return api.NotifyOptions{}
	}
	return api.NotifyOptions{URLs: urls, On: api.NotifyOn(n.On.value)}
}

// notifyScheme starts a URL in a list: a comma splits the list only where the next URL
// begins, so a comma inside one (ntfy's tags=a,b) stays.
var notifyScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// splitNotifyURLs splits MAIM_NOTIFY as watchtower splits WATCHTOWER_NOTIFICATION_URL: on
// spaces, and on commas that start another URL.
func splitNotifyURLs(s string) []string {
	var out []string
	for _, f := range strings.Fields(s) {
		parts := strings.Split(f, ",")
		cur := ""
		for i, p := range parts {
			switch {
			case i == 0:
				cur = p
			case notifyScheme.MatchString(p):
				if cur != "" {
					out = append(out, cur)
				}
				cur = p
			default:
				cur += "," + p
			}
		}
		if cur != "" {
			out = append(out, cur)
		}
	}
	return out
}

// sourceFlags are the per-source backup flags of backup and upgrade: --source-policy
// (repeatable NAME=always|changed|never) and --full.
type sourceFlags struct {
	policies  []string
	full      bool
	maxDeltas int
}

func (sf *sourceFlags) add(f *pflag.FlagSet, never string) {
	f.StringArrayVar(&sf.policies, "source-policy", nil, "Back up the data source NAME always, only when it changed since the last backup, or never "+never+" (`NAME=POLICY`, repeatable; over the compose file's x-maim backup key)")
	f.BoolVar(&sf.full, "full", false, "Archive every source whole, not only what changed since the last backup (incremental)")
	f.IntVar(&sf.maxDeltas, "max-deltas", 0, "Archive a source whole again after `N` incremental backups of it (0: 7)")
}

// parse reads --source-policy (a bad value is a usage error).
func (sf *sourceFlags) parse() (map[string]api.SourcePolicy, error) {
	m, err := api.ParseSourcePolicies(sf.policies)
	if err != nil {
		return nil, usageError{err}
	}
	if sf.maxDeltas < 0 {
		return nil, usageError{fmt.Errorf("--max-deltas %d: want 0 or more", sf.maxDeltas)}
	}
	return m, nil
}

// encryptFlags are --encrypt-to and --encrypt-local (backup, upgrade).
type encryptFlags struct {
	To    []string
	Local bool
}

func (e *encryptFlags) add(fs *pflag.FlagSet) {
	fs.StringArrayVar(&e.To, "encrypt-to", nil, "Encrypt with age to `RECIPIENT`: an age public key (age1...), an SSH public key (ssh-ed25519, ssh-rsa), or @FILE of them (repeatable; default: MAIM_AGE_RECIPIENTS, comma-, space- or newline-separated). Remote copies are always encrypted to them; the local archives only with --encrypt-local")
	fs.BoolVar(&e.Local, "encrypt-local", false, "Encrypt the local archives too (the manifest stays plaintext); without it only the copies that leave the host are encrypted")
}

func (e *encryptFlags) options() api.EncryptOptions {
	return api.EncryptOptions{To: e.To, Local: e.Local}
}

// identityFlag is --identity (restore, rollback, verify; upgrade with --encrypt-local).
func identityFlag(fs *pflag.FlagSet, files *[]string, needed string) {
	fs.StringArrayVar(files, "identity", nil, "Decrypt encrypted backups with the age identity or unencrypted SSH private key in `FILE` (repeatable; default: MAIM_AGE_IDENTITY); needed "+needed)
}
