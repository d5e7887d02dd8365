// Package notify tells the user how an operation on a project ended through the
// notification services they name by shoutrrr URLs (ntfy://, gotify://, discord://,
// telegram://, slack://, generic:// for a webhook, and every other service of
// github.com/nicholas-fedor/shoutrrr, the maintained fork watchtower uses): what happened,
// which backup, and the command to run next.
//
// The message is built from an operation's api result and error (event.go: one builder
// per verb, an Event any later operation, a remote copy say, can fill in itself). Sending
// never fails the operation: each target is sent to on its own with a timeout, and a
// failure is a warning. Secrets in the URLs (tokens, passwords, webhook paths) are never
// printed: a target is shown by its scheme and host only (Target), and every error text is
// redacted of every part of the URLs that may be secret (targets.go).
package notify

import (
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/nicholas-fedor/shoutrrr/pkg/router"
	"github.com/nicholas-fedor/shoutrrr/pkg/types"
)

// DefaultTimeout bounds the sending to one target.
const DefaultTimeout = 10 * time.Second

// Notifier sends Events to the targets of one verb's api.NotifyOptions. A nil *Notifier
// (no URLs) sends nothing.
type Notifier struct {
	targets []target
	on      api.NotifyOn
	warn    io.Writer
	// Timeout bounds the sending to one target (DefaultTimeout when zero).
	Timeout time.Duration
	// Host names the machine in the title (os.Hostname when empty).
	Host string
}

// target is one URL and its service.
type target struct {
	shown   string // Target(raw)
	secrets []string
	router  *router.ServiceRouter
}

// New checks every URL of o (a known service, a URL it accepts) and returns the Notifier
// that sends to them, warning on warn; nil when o names none. An unusable URL is a
// *api.UsageError whose text shows the URL only as Target does.
func New(o api.NotifyOptions, warn io.Writer) (*Notifier, error) {
	if len(o.URLs) == 0 {
		return nil, nil
	}
	switch o.On {
	case "", api.NotifyFailure, api.NotifyAlways:
	default:
		return nil, &api.UsageError{Err: fmt.Errorf("--notify-on %q: want %s or %s", o.On, api.NotifyFailure, api.NotifyAlways)}
	}
	if warn == nil {
		warn = os.Stderr
	}
	n := &Notifier{on: o.On, warn: warn}
	quiet := log.New(io.Discard, "", 0)
	for _, raw := range o.URLs {
		t := target{shown: Target(raw), secrets: secretsOf(raw)}
		r, err := router.New(quiet, raw)
		if err != nil {
			return nil, &api.UsageError{Err: fmt.Errorf("--notify %s: %s", t.shown, redactWith(err.Error(), t.secrets))}
		}
		t.router = r
		n.targets = append(n.targets, t)
	}
	return n, nil
}

// Targets are the targets as a plan lists them: scheme and host only (Target).
func (n *Notifier) Targets() []string {
	if n == nil {
		return nil
	}
	out := make([]string, len(n.targets))
	for i, t := range n.targets {
		out[i] = t.shown
	}
	return out
}

// Send sends ev to every target, in parallel, and returns when each has answered or timed
// out; a success is sent only with api.NotifyAlways. A target that fails is a warning
// (redacted); Send itself never fails. It reports how many targets took the message.
func (n *Notifier) Send(ev Event) int {
	if n == nil || ev.Empty() || (!ev.Failed && n.on != api.NotifyAlways) {
		return 0
	}
	host := n.Host
	if host == "" {
		host, _ = os.Hostname()
	}
	title, text := ev.Title(host), ev.Text()
	timeout := n.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	var wg sync.WaitGroup
	errs := make([]error, len(n.targets))
	for i, t := range n.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.router.Timeout = timeout
			params := types.Params{"title": title}
			for _, err := range t.router.Send(text, &params) {
				if err != nil {
					errs[i] = err
				}
			}
		}()
	}
	wg.Wait()
	sent := 0
	for i, err := range errs {
		if err == nil {
			sent++
			continue
		}
		t := n.targets[i]
		msg := strings.TrimSpace(redactWith(err.Error(), t.secrets))
		fmt.Fprintf(n.warn, "WARNING: the notification to %s was not sent: %s\n", t.shown, msg)
	}
	return sent
}
