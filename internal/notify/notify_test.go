package notify

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-maim/docker-maim/internal/api"
)

// Tokens of the shapes Telegram and Discord use: none may appear in any output.
const (
	tgToken      = "1234567890:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ"
	discordToken = "Xq7PzU4yR2mVbN9kLw3TfHs8JdGcA1eZoQiYuWxE5rTn6MvBpKjHg0fDsLaZcX"
	discordHook  = "1103425519391981669"
)

var secretURLs = []string{
	"telegram://" + tgToken + "@telegram?chats=@mychannel",
	"discord://" + discordToken + "@" + discordHook,
	"ntfy://:tk_s3cr3tt0ken1234567890abcd@ntfy.example.com/private-topic-1234",
	"gotify://gotify.example.com/AyfGq4cKRE.Ns1K",
	"pushover://shoutrrr:azGDORePK8gMaC0QOYAMyEEuzJnyUi@uQiRzpo4DXghDmr9QzzfQu27cmVRsG/",
	"generic://user:hunter2hunter2@hooks.example.com/secret-path-123?token=abcdef123456",
}

func noSecrets(t *testing.T, what, s string) {
	t.Helper()
	for _, sec := range []string{tgToken, "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ", discordToken, "tk_s3cr3tt0ken1234567890abcd",
		"private-topic-1234", "AyfGq4cKRE.Ns1K", "azGDORePK8gMaC0QOYAMyEEuzJnyUi", "uQiRzpo4DXghDmr9QzzfQu27cmVRsG",
		"hunter2hunter2", "secret-path-123", "abcdef123456"} {
		if strings.Contains(s, sec) {
			t.Errorf("%s shows the secret %q: %s", what, sec, s)
		}
	}
}

func TestTargetShowsSchemeAndHostOnly(t *testing.T) {
	want := []string{"telegram://telegram", "discord://" + discordHook, "ntfy://ntfy.example.com", "gotify://gotify.example.com",
		"pushover://<redacted>", "generic://hooks.example.com"}
	for i, raw := range secretURLs {
		got := Target(raw)
		if got != want[i] {
			t.Errorf("Target(#%d) = %q, want %q", i, got, want[i])
		}
		noSecrets(t, "Target", got)
	}
	if got := Target("not a url\x7f"); got != "<redacted>" {
		t.Errorf("an unparseable URL shows as %q", got)
	}
}

// TestErrorsAreRedacted: what the services answer, a connection error naming the API URL
// the token is part of, or a refused URL: every text New and Send print is free of the
// URLs' secrets.
func TestErrorsAreRedacted(t *testing.T) {
	for _, raw := range secretURLs {
		got := redactWith(`Post "https://api.telegram.org/bot`+tgToken+`/sendMessage": dial tcp: lookup api.telegram.org: no such host; `+
			`https://discord.com/api/webhooks/`+discordHook+`/`+discordToken+` `+raw, secretsOf(raw))
		if strings.Contains(got, raw) {
			t.Errorf("the URL itself is in %s", got)
		}
	}
	all := strings.Join(secretURLs, " ")
	var secrets []string
	for _, raw := range secretURLs {
		secrets = append(secrets, secretsOf(raw)...)
	}
	noSecrets(t, "redactWith", redactWith("error: "+all+" https://api.telegram.org/bot"+tgToken+"/sendMessage", secrets))

	// An unknown service and a malformed URL: a usage error, redacted.
	for _, raw := range []string{"nosuchservice://" + discordToken + "@host/" + tgToken, "telegram://" + tgToken + "@telegram"} {
		_, err := New(api.NotifyOptions{URLs: []string{raw}}, io.Discard)
		var ue *api.UsageError
		if !errors.As(err, &ue) {
			t.Errorf("New(%s...): %v, want a usage error", raw[:8], err)
			continue
		}
		noSecrets(t, "New's error", err.Error())
	}

	// Real sends to Discord (no route to it here: it fails; shoutrrr v0.13.2's Telegram
	// client reports a failed connection as success, so it cannot be sent to here), and to
	// a webhook that answers 500.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, r.URL.String(), 500) }))
	defer srv.Close()
	urls := []string{secretURLs[1], "generic+" + srv.URL + "/secret-path-123?token=abcdef123456"}
	var warn bytes.Buffer
	n, err := New(api.NotifyOptions{URLs: urls}, &warn)
	if err != nil {
		t.Fatal(err)
	}
	n.Timeout = 20 * time.Second
	if sent := n.Send(Event{Failed: true, Headline: "test"}); sent != 0 {
		t.Errorf("%d sends succeeded", sent)
	}
	if c := strings.Count(warn.String(), "WARNING: the notification to "); c != 2 {
		t.Errorf("want 2 warnings, got %d:\n%s", c, warn.String())
	}
	noSecrets(t, "Send's warnings", warn.String())
	t.Logf("warnings:\n%s", warn.String())
}

// webhook is a generic:// listener that records each message's body.
type webhook struct {
	mu     sync.Mutex
	bodies []string
	srv    *httptest.Server
}

func newWebhook(t *testing.T) *webhook {
	wh := &webhook{}
	wh.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		wh.mu.Lock()
		wh.bodies = append(wh.bodies, string(b))
		wh.mu.Unlock()
	}))
	t.Cleanup(wh.srv.Close)
	return wh
}

func (wh *webhook) url() string { return "generic+" + wh.srv.URL + "/hook" }

func (wh *webhook) got() []string {
	wh.mu.Lock()
	defer wh.mu.Unlock()
	return append([]string{}, wh.bodies...)
}

// TestSendLevels: a failure is sent; a success only with always; no URLs, no Notifier.
func TestSendLevels(t *testing.T) {
	wh := newWebhook(t)
	fail := Event{Project: "p", Failed: true, Headline: "backup of p failed", Why: "disk full"}
	ok := Event{Project: "p", Headline: "backup of p done", BackupID: "20260101T000000Z"}
	n, err := New(api.NotifyOptions{URLs: []string{wh.url()}}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	n.Host = "vps1"
	if n.Send(ok) != 0 || n.Send(fail) != 1 {
		t.Fatalf("failure-only notifier: %v", wh.got())
	}
	if got := wh.got(); len(got) != 1 || !strings.HasPrefix(got[0], "backup of p failed: disk full\n") {
		t.Errorf("webhook got %q", got)
	}
	n, _ = New(api.NotifyOptions{URLs: []string{wh.url()}, On: api.NotifyAlways}, io.Discard)
	if n.Send(ok) != 1 || len(wh.got()) != 2 {
		t.Errorf("always: %q", wh.got())
	}
	if n, err := New(api.NotifyOptions{}, io.Discard); n != nil || err != nil || n.Send(fail) != 0 || n.Targets() != nil {
		t.Errorf("no URLs: %v %v", n, err)
	}
	if _, err := New(api.NotifyOptions{URLs: []string{wh.url()}, On: "sometimes"}, io.Discard); err == nil {
		t.Errorf("On sometimes accepted")
	}
}
