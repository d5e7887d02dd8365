package notify

import (
	"net/url"
	"sort"
	"strings"

	"github.com/docker-maim/docker-maim/internal/redact"
)

// secretHost are the services whose URL carries a key as its host
// (ifttt://KEY/, pushbullet://TOKEN/, pushover://shoutrrr:TOKEN@USERKEY/): their host is
// never shown.
var secretHost = map[string]bool{"ifttt": true, "pushbullet": true, "pushover": true}

// Target is how a notification URL is shown: its scheme and host, nothing of its user,
// password, path or query ("telegram://telegram", "discord://123456789",
// "generic://hooks.example.com:8080"); a host that is itself a key (secretHost, or one of
// a token's shape) is redacted, and a URL that does not parse shows as "<redacted>".
func Target(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme == "" {
		return redact.Redacted
	}
	scheme := strings.ToLower(u.Scheme)
	service, _, _ := strings.Cut(scheme, "+")
	host := u.Host
	if secretHost[service] || redact.Secret(host) {
		host = redact.Redacted
	}
	return scheme + "://" + host
}

// minSecret is the shortest part of a URL redacted from error texts: shorter ones are
// words of the message ("api", "bot") more often than secrets.
const minSecret = 4

// secretsOf are the parts of a notification URL an error text must not show: the URL
// itself, its user and password, every path segment and query value, and the host where
// it is a key; each also as the URL escapes it, longest first.
func secretsOf(raw string) []string {
	raw = strings.TrimSpace(raw)
	parts := []string{raw}
	if u, err := url.Parse(raw); err == nil {
		if u.User != nil {
			p, _ := u.User.Password()
			parts = append(parts, u.User.Username(), p, u.User.Username()+":"+p, u.User.String())
		}
		service, _, _ := strings.Cut(strings.ToLower(u.Scheme), "+")
		if secretHost[service] {
			parts = append(parts, u.Hostname())
		}
		for _, seg := range strings.Split(u.Path, "/") {
			parts = append(parts, seg)
		}
		for _, vs := range u.Query() {
			parts = append(parts, vs...)
		}
		parts = append(parts, u.RawQuery, u.Opaque)
	}
	var out []string
	seen := map[string]bool{}
	for _, p := range parts {
		for _, v := range []string{p, url.PathEscape(p), url.QueryEscape(p)} {
			if len(v) >= minSecret && !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// redactWith is s with every one of secrets replaced, then with whatever else redact.Text
// finds (a token of a known shape, a URL's password).
func redactWith(s string, secrets []string) string {
	for _, sec := range secrets {
		s = strings.ReplaceAll(s, sec, redact.Redacted)
	}
	return redact.Text(s)
}
