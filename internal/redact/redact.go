// Package redact decides what of a config, env or compose value is a secret, for every
// plan and report docker-maim prints (config and .env diffs, the compose file diff and
// the merge report of upgrade --compose-file, their JSON): one rule set, used by every
// printer, so a secret hidden in one is hidden in all. Unless asked (--show-secrets) a
// secret is printed as Redacted.
//
// A value is secret by its key (Key: the word list) or by itself (Find): a token of a
// known shape (the detectors of github.com/DefangLabs/secret-detector, the library compose
// uses to refuse publishing secrets, and the prefixes in tokenPrefixes), a URL's password,
// a private key block, and in a command line the argument of a secret-looking flag
// ("--password=x", "--token x", "-p x", "-px") or the value of a secret-looking NAME=value.
//
// The rules are exact for what they name; a secret of no known shape under a key that
// does not look secret (MY_THING=hunter2) is not found: redaction hides the likely secrets
// of a plan, it does not make a plan safe to publish.
package redact

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode"

	"github.com/DefangLabs/secret-detector/pkg/detectors/aws"
	"github.com/DefangLabs/secret-detector/pkg/detectors/azure"
	"github.com/DefangLabs/secret-detector/pkg/detectors/basicauth"
	"github.com/DefangLabs/secret-detector/pkg/detectors/bearerauth"
	"github.com/DefangLabs/secret-detector/pkg/detectors/generic"
	"github.com/DefangLabs/secret-detector/pkg/detectors/github"
	"github.com/DefangLabs/secret-detector/pkg/detectors/jwt"
	"github.com/DefangLabs/secret-detector/pkg/detectors/mailchimp"
	"github.com/DefangLabs/secret-detector/pkg/detectors/npm"
	"github.com/DefangLabs/secret-detector/pkg/detectors/privatekey"
	"github.com/DefangLabs/secret-detector/pkg/detectors/sendgrid"
	"github.com/DefangLabs/secret-detector/pkg/detectors/slack"
	"github.com/DefangLabs/secret-detector/pkg/detectors/square"
	"github.com/DefangLabs/secret-detector/pkg/detectors/stripe"
	"github.com/DefangLabs/secret-detector/pkg/detectors/twilio"
	"github.com/DefangLabs/secret-detector/pkg/secrets"
)

// Redacted stands for a secret value in diffs and reports.
const Redacted = "<redacted>"

// secretWords are the words of a key name that mark its value secret. A key is split
// into lower-case words at '_', '-', '.', spaces and camelCase humps ("openaiApiKey":
// openai, api, key); a key is secret when one of its words is in this list, or ends in
// key, token, secret, password or passwd ("apikey", "siliconflowkey"). Words like
// "keywords", "max_tokens" or "tokenizer" are not secret.
var secretWords = map[string]bool{
	"key": true, "keys": true, "apikey": true, "token": true, "secret": true, "secrets": true,
	"password": true, "passwords": true, "passwd": true, "pwd": true, "pass": true, "passphrase": true,
	"credential": true, "credentials": true, "creds": true, "auth": true, "authorization": true,
	"cookie": true, "cookies": true, "session": true, "sessionid": true, "salt": true,
	"signature": true, "dsn": true,
}

var secretSuffixes = []string{"key", "token", "secret", "password", "passwd"}

// Key tells whether a key's value is a secret by the key's name (case does not matter);
// see secretWords. A dotted path is secret when any of its parts is (every key of a
// [secrets] table is).
func Key(key string) bool {
	for _, w := range keyWords(key) {
		if secretWords[w] {
			return true
		}
		for _, s := range secretSuffixes {
			if strings.HasSuffix(w, s) {
				return true
			}
		}
	}
	return false
}

// keyWords splits a key into lower-case words at non-alphanumerics and camelCase humps.
func keyWords(key string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	rs := []rune(key)
	for i, r := range rs {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
			continue
		case unicode.IsUpper(r) && i > 0 && (unicode.IsLower(rs[i-1]) ||
			(unicode.IsUpper(rs[i-1]) && i+1 < len(rs) && unicode.IsLower(rs[i+1]))):
			flush() // "apiKey" -> api key; "APIKey" -> api key
		}
		cur = append(cur, r)
	}
	flush()
	return words
}

// FlagTakesSecret tells whether a command-line argument is a flag whose value (the next
// argument) is a secret: "--NAME" or "-NAME" with a secret-looking NAME (Key: --password,
// --api-key, -token, --auth), and "-p", the password flag of mysql, mariadb and
// mysqladmin. A "-p" that gives a port is redacted too: it costs a plan's reader a port
// number in a command line, where a mysql password would cost the password.
func FlagTakesSecret(arg string) bool {
	if arg == "-p" {
		return true
	}
	name := strings.TrimLeft(arg, "-")
	if len(arg)-len(name) == 0 || len(arg)-len(name) > 2 || name == "" || strings.Contains(name, "=") {
		return false
	}
	return Key(name)
}

// The detectors of secret-detector that find a secret by its shape. Left out: its keyword
// detector (Key is the word list here), its high-entropy detector (image digests, hashes
// and IDs are long random strings and not secrets) and its Artifactory detector (its
// "AP" + 9 letters pattern matches ordinary upper-case words).
var (
	detectorsOnce sync.Once
	detectors     []secrets.Detector
)

func libraryDetectors() []secrets.Detector {
	detectorsOnce.Do(func() {
		detectors = []secrets.Detector{
			aws.NewClientIdDetector(), aws.NewSecretKeyDetector(), aws.NewMWSKeyDetector(),
			azure.NewDetector(), basicauth.NewDetector(), bearerauth.NewDetector(),
			generic.NewURLPasswordDetector(), github.NewDetector(), jwt.NewDetector(),
			mailchimp.NewDetector(), npm.NewDetector(), privatekey.NewDetector(),
			sendgrid.NewDetector(), slack.NewDetector(), square.NewDetector(),
			stripe.NewDetector(), twilio.NewDetector(),
		}
	})
	return detectors
}

// tokenPrefixes are written here because the library's detectors want a token's exact
// shape (a GitHub token of exactly 36 characters, a Slack token with its numeric parts, a
// JWT that parses) and know no fine-grained GitHub token (github_pat_) nor the "sk-" keys
// of OpenAI, Anthropic, DeepSeek and the like: a plan had rather hide a truncated, test or
// future-format token than print it. Group 1 is the secret; a token starts at the start
// of the value or after a character that cannot be part of one.
var tokenPrefixes = regexp.MustCompile(`(?:^|[^A-Za-z0-9_-])(` +
	`gh[pousr]_[A-Za-z0-9_]{8,}|github_pat_[A-Za-z0-9_]{8,}|` +
	`sk-[A-Za-z0-9_-]{16,}|` +
	`xox[abposre]-[A-Za-z0-9-]{8,}|xapp-[A-Za-z0-9-]{8,}|` +
	`(?:AKIA|ASIA)[A-Z0-9]{12,}|` +
	`eyJ[A-Za-z0-9_=-]{8,}\.[A-Za-z0-9_=-]{8,}(?:\.[A-Za-z0-9_=+/-]*)?)`)

// urlPassword finds the password of a URL ("postgres://user:pw@db/x"), group 1.
var urlPassword = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:([^/\s@]+)@`)

// privateKey finds a private key block, from its BEGIN line to its END line (or the end
// of the value when it has none: a truncated key is still a key).
var (
	privateKeyBegin = regexp.MustCompile(`-----BEGIN[A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----`)
	privateKeyEnd   = regexp.MustCompile(`-----END[A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----`)
)

// Find returns the byte ranges [start, end) of s that are secret (see the package doc),
// sorted and not overlapping. A caller that cannot print part of a value hides all of it
// when Find returns any range.
func Find(s string) [][2]int {
	if s == "" {
		return nil
	}
	memo.Lock()
	rs, ok := memo.m[s]
	memo.Unlock()
	if !ok {
		rs = find(s)
		memo.Lock()
		if len(memo.m) >= 4096 {
			clear(memo.m)
		}
		memo.m[s] = rs
		memo.Unlock()
	}
	return slices.Clone(rs)
}

// memo keeps Find's answers: the detectors cost about a millisecond a value, and a diff
// asks for every value of both files, most of them the same.
var memo = struct {
	sync.Mutex
	m map[string][][2]int
}{m: map[string][][2]int{}}

func find(s string) [][2]int {
	var rs [][2]int
	add := func(start, end int) {
		if start < end {
			rs = append(rs, [2]int{start, end})
		}
	}
	addAll := func(v string) {
		for i := 0; v != "" && i <= len(s)-len(v); {
			j := strings.Index(s[i:], v)
			if j < 0 {
				break
			}
			add(i+j, i+j+len(v))
			i += j + len(v)
		}
	}
	for _, d := range libraryDetectors() {
		found, ok := scan(d, s)
		if !ok {
			return [][2]int{{0, len(s)}}
		}
		for _, f := range found {
			addAll(strings.TrimSpace(f.Value))
		}
	}
	for _, m := range tokenPrefixes.FindAllStringSubmatchIndex(s, -1) {
		add(m[2], m[3])
	}
	for _, m := range urlPassword.FindAllStringSubmatchIndex(s, -1) {
		add(m[2], m[3])
	}
	for _, m := range privateKeyBegin.FindAllStringIndex(s, -1) {
		end := len(s)
		if e := privateKeyEnd.FindStringIndex(s[m[1]:]); e != nil {
			end = m[1] + e[1]
		}
		add(m[0], end)
	}
	rs = append(rs, argRanges(s)...)
	return merge(rs)
}

// scan runs a detector on s; ok is false when it panicked (secret-detector's basic and
// bearer auth checks index a decoded parameter of one byte out of range: "Basic ab=="):
// the caller then hides all of s, a plan is still printed and shows no part of it.
func scan(d secrets.Detector, s string) (found []secrets.DetectedSecret, ok bool) {
	defer func() {
		if recover() != nil {
			found, ok = nil, false
		}
	}()
	found, _ = d.Scan(s)
	return found, true
}

// Secret tells whether s holds a secret by itself (Find finds any).
func Secret(s string) bool { return len(Find(s)) > 0 }

// Text is s with every range Find finds replaced by Redacted: for a value printed as one
// string (a merge report's old and new values).
func Text(s string) string {
	rs := Find(s)
	if len(rs) == 0 {
		return s
	}
	var b strings.Builder
	pos := 0
	for _, r := range rs {
		b.WriteString(s[pos:r[0]])
		b.WriteString(Redacted)
		pos = r[1]
	}
	b.WriteString(s[pos:])
	return b.String()
}

// flowPunct are the characters around a word in a one-line rendering of a YAML list or
// mapping ([a, "b"], {k: v}) that are not part of it.
const flowPunct = `"'[]{},`

// argRanges finds, in a command line or a one-line rendering of a list or mapping, the
// value of a secret-looking flag ("--password=x", "--token x", "-p x", "-px") and of a
// secret-looking NAME=value or NAME: value. A value runs to the end of its
// whitespace-separated word, less the quotes and brackets that close it.
func argRanges(s string) [][2]int {
	type word struct{ start, end int } // the word less flowPunct at both ends
	var words []word
	for i := 0; i < len(s); {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		j := i
		for j < len(s) && !isSpace(s[j]) {
			j++
		}
		w := word{i, j}
		for w.start < w.end && strings.IndexByte(flowPunct, s[w.start]) >= 0 {
			w.start++
		}
		for w.end > w.start && strings.IndexByte(flowPunct, s[w.end-1]) >= 0 {
			w.end--
		}
		if w.start < w.end {
			words = append(words, w)
		}
		i = j
	}
	var rs [][2]int
	for k, w := range words {
		text := s[w.start:w.end]
		nextIsSecret := false
		switch {
		case strings.HasPrefix(text, "-") && strings.Contains(text, "="):
			eq := strings.IndexByte(text, '=')
			if FlagTakesSecret(text[:eq]) {
				rs = append(rs, [2]int{w.start + eq + 1, w.end})
			}
		case strings.HasPrefix(text, "-p") && !strings.HasPrefix(text, "--") && len(text) > 2:
			// mysql's -pPASSWORD; also a single-dash long flag (-password x): both hidden.
			rs = append(rs, [2]int{w.start + 2, w.end})
			nextIsSecret = FlagTakesSecret(text)
		case FlagTakesSecret(text):
			nextIsSecret = true
		case strings.HasSuffix(text, ":") && Key(text[:len(text)-1]):
			nextIsSecret = true
		case strings.Contains(text, "=") && Key(text[:strings.IndexByte(text, '=')]):
			eq := strings.IndexByte(text, '=')
			rs = append(rs, [2]int{w.start + eq + 1, w.end})
		}
		if nextIsSecret && k+1 < len(words) {
			rs = append(rs, [2]int{words[k+1].start, words[k+1].end})
		}
	}
	return rs
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// merge sorts ranges, drops empty ones and joins those that overlap or touch.
func merge(rs [][2]int) [][2]int {
	rs = slices.DeleteFunc(rs, func(r [2]int) bool { return r[0] >= r[1] })
	if len(rs) == 0 {
		return nil
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i][0] < rs[j][0] })
	out := [][2]int{rs[0]}
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if r[0] <= last[1] {
			if r[1] > last[1] {
				last[1] = r[1]
			}
			continue
		}
		out = append(out, r)
	}
	return out
}
