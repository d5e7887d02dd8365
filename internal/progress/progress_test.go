package progress

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a fake time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTest(t *testing.T, m Mode) (*Reporter, *bytes.Buffer, *clock) {
	t.Helper()
	var buf bytes.Buffer
	r, err := New(m, &buf)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 11, 25, 22, 0, 0, 0, time.UTC)}
	r.now = c.now
	return r, &buf, c
}

func TestParseMode(t *testing.T) {
	for _, s := range []string{"auto", "TTY", "plain", "json", "quiet", ""} {
		if _, err := ParseMode(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	if _, err := New("fancy", &bytes.Buffer{}); err == nil {
		t.Error("unknown mode accepted")
	}
}

func TestAutoIsPlainForNonTerminals(t *testing.T) {
	r, _, _ := newTest(t, Auto)
	if r.Mode() != Plain {
		t.Errorf("auto on a buffer = %s", r.Mode())
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if r, _ := New(Auto, f); r.Mode() != Plain {
		t.Errorf("auto on a regular file = %s", r.Mode())
	}
}

func TestPlain(t *testing.T) {
	r, buf, c := newTest(t, Plain)
	r.Event("stopping core")
	a := r.Task("volume data", 10<<20)
	a.Add(1 << 20) // no progress line yet: too soon
	c.advance(6 * time.Second)
	a.Add(4 << 20) // now one
	a.Add(1 << 20) // too soon again
	c.advance(1 * time.Second)
	a.Add(4 << 20)
	a.Done(nil)
	a.Add(1) // ignored after Done
	b := r.Task("bind ./config", 0)
	c.advance(time.Second)
	b.Done(errors.New("disk full"))
	r.Close()
	r.Event("after close")
	want := "stopping core\n" +
		"volume data: started (10.49MB)\n" +
		"volume data: 5.243MB / 10.49MB   50%  873.8kB/s  ETA 6s\n" +
		"volume data: done, 10.49MB in 7s (1.498MB/s)\n" +
		"bind ./config: started (size unknown)\n" +
		"bind ./config: failed after 0B: disk full\n"
	if got := buf.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestJSON(t *testing.T) {
	r, buf, c := newTest(t, JSON)
	r.Event("stopping core")
	a := r.Task("data", 100)
	c.advance(PlainInterval)
	a.Add(40)
	a.Add(10) // rate-limited
	a.Done(nil)
	b := r.Task("cfg", 0)
	b.Done(errors.New("boom"))
	r.Close()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines:\n%s", len(lines), buf)
	}
	type line struct {
		Time   string
		Event  *string
		Task   *string
		Bytes  *int64
		Total  *int64
		Status string
		Error  string
	}
	var got []line
	for _, l := range lines {
		var v line
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		if _, err := time.Parse(time.RFC3339Nano, v.Time); err != nil {
			t.Errorf("time in %q: %v", l, err)
		}
		got = append(got, v)
	}
	if got[0].Event == nil || *got[0].Event != "stopping core" || got[0].Task != nil {
		t.Errorf("event line %q", lines[0])
	}
	check := func(i int, task string, bytes, total int64, status, errMsg string) {
		t.Helper()
		g := got[i]
		if g.Task == nil || *g.Task != task || g.Bytes == nil || *g.Bytes != bytes || g.Total == nil || *g.Total != total || g.Status != status || g.Error != errMsg {
			t.Errorf("line %d = %s", i, lines[i])
		}
	}
	check(1, "data", 0, 100, "running", "")
	check(2, "data", 40, 100, "running", "")
	check(3, "data", 50, 50, "done", "") // done: the total is what was done
	check(4, "cfg", 0, 0, "running", "")
	check(5, "cfg", 0, 0, "error", "boom")
}

func TestQuiet(t *testing.T) {
	r, buf, _ := newTest(t, Quiet)
	r.Event("x")
	a := r.Task("a", 10)
	a.Add(5)
	a.Done(errors.New("e"))
	r.Close()
	if buf.Len() != 0 {
		t.Errorf("quiet wrote %q", buf)
	}
	if a.Bytes() != 5 {
		t.Errorf("bytes %d", a.Bytes())
	}
}

func TestTTY(t *testing.T) {
	r, buf, c := newTest(t, TTY)
	a := r.Task("vol a", 1000)
	b := r.Task("vol b", 0)
	start := buf.Len()
	a.Add(100) // within 100ms of the last draw: no redraw
	if buf.Len() != start {
		t.Errorf("redrew too early: %q", buf.String()[start:])
	}
	c.advance(TTYInterval)
	a.Add(400)
	out := buf.String()[start:]
	// Cursor up over the two live lines, clear, then both lines again.
	if !strings.HasPrefix(out, "\x1b[2A\r\x1b[J") {
		t.Errorf("redraw does not move up 2 lines: %q", out)
	}
	if !strings.Contains(out, "vol a  500B / 1kB   50%  5kB/s  ETA 100ms\n") || !strings.Contains(out, "vol b  0B / ?  0B/s\n") {
		t.Errorf("live lines: %q", out)
	}
	start = buf.Len()
	r.Event("starting core")
	a.Done(nil)
	out = buf.String()[start:]
	if !strings.Contains(out, "starting core\n") || !strings.Contains(out, "vol a: done, 500B in 100ms") {
		t.Errorf("event/done: %q", out)
	}
	// After a ends only b is live: the last redraw moves up 2 lines (a, b)
	// and draws one.
	last := out[strings.LastIndex(out, "\x1b["+"2A"):]
	if strings.Count(last, "\n") != 2 || !strings.HasSuffix(last, "vol b  0B / ?  0B/s\n") {
		t.Errorf("last redraw %q", last)
	}
	b.Done(nil)
	r.Close()
	// No ANSI state is left behind for later output: Close stops drawing.
	n := buf.Len()
	r.Event("late")
	if buf.Len() != n {
		t.Error("output after Close")
	}
}

func TestTTYWidthAndNewlines(t *testing.T) {
	r, buf, _ := newTest(t, TTY)
	r.width = 20
	r.Task("a very long task name\nwith newline", 0)
	for _, l := range strings.Split(buf.String(), "\n") {
		l = strings.TrimPrefix(l, "\r\x1b[J")
		if n := len([]rune(l)); n > 19 {
			t.Errorf("line of %d runes: %q", n, l)
		}
	}
	if strings.Count(buf.String(), "\n") != 1 {
		t.Errorf("name newline leaked: %q", buf)
	}
}

func TestConcurrent(t *testing.T) {
	for _, m := range []Mode{TTY, Plain, JSON, Quiet} {
		t.Run(string(m), func(t *testing.T) {
			var buf bytes.Buffer
			r, _ := New(m, &lockedWriter{w: &buf})
			var wg sync.WaitGroup
			for i := 0; i < 8; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					tk := r.Task("t", 1<<20)
					for j := 0; j < 1000; j++ {
						tk.Add(1024)
					}
					tk.Done(nil)
					r.Event("e")
				}()
			}
			wg.Wait()
			r.Close()
			if m == Plain && strings.Count(buf.String(), "t: done, 1.024MB") != 8 {
				t.Errorf("plain output:\n%s", buf.String())
			}
			if m == JSON {
				for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
					if !json.Valid([]byte(l)) {
						t.Errorf("invalid json line %q", l)
					}
				}
			}
		})
	}
}

// lockedWriter detects unsynchronized writes under -race only; the reporter
// must serialize writes itself, so the lock here is never contended.
type lockedWriter struct {
	w  *bytes.Buffer
	in bool
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	if l.in {
		panic("concurrent write")
	}
	l.in = true
	defer func() { l.in = false }()
	return l.w.Write(p)
}

func TestFormatBytes(t *testing.T) {
	// docker's sizes (go-units HumanSize): decimal, four significant digits
	for n, want := range map[int64]string{0: "0B", 999: "999B", 1000: "1kB", 1536: "1.536kB", 2_936_012: "2.936MB", 5e9: "5GB"} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// jsonLines parses every line of buf as a Line.
func jsonLines(t *testing.T, buf *bytes.Buffer) []Line {
	t.Helper()
	var out []Line
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var v Line
		if strings.Contains(l, `"event":`) {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		out = append(out, v)
	}
	return out
}

func eta(l Line) string {
	if l.ETASeconds == nil {
		return "none"
	}
	return strconv.FormatFloat(*l.ETASeconds, 'f', -1, 64)
}

// A steady 1 MiB/s gives that rate and the exact time left; a change of speed moves
// the smoothed rate part of the way, not all of it at once.
func TestRateAndETA(t *testing.T) {
	r, buf, c := newTest(t, JSON)
	r.SetStep("upgrade", "backup")
	a := r.Start(Spec{Name: "data", Source: "data", Total: 20 << 20})
	for i := 0; i < 5; i++ {
		c.advance(time.Second)
		a.Add(1 << 20)
	}
	got := jsonLines(t, buf)
	if len(got) != 2 {
		t.Fatalf("%d lines:\n%s", len(got), buf)
	}
	l := got[1]
	if l.Op != "upgrade" || l.Phase != "backup" || l.SchemaVersion != SchemaVersion || l.Source != "data" || l.Task != "data" || l.Status != "running" ||
		l.Bytes != 5<<20 || l.Total != 20<<20 || l.Rate != 1<<20 || eta(l) != "15" {
		t.Fatalf("steady line %+v eta %s", l, eta(l))
	}
	// Four times faster for 5 seconds: the rate rises, but less than the new speed.
	for i := 0; i < 5; i++ {
		c.advance(time.Second)
		a.Add(4 << 20)
	}
	got = jsonLines(t, buf)
	l = got[len(got)-1]
	if l.Bytes != 25<<20 {
		t.Fatalf("bytes %d", l.Bytes)
	}
	if l.Rate <= 1<<20 || l.Rate >= 4<<20 {
		t.Errorf("smoothed rate %d not between the old and the new speed", l.Rate)
	}
	// Past the total (the files grew): ETA 0, never negative.
	if eta(l) != "0" || l.Total != 20<<20 {
		t.Errorf("past the total: %+v eta %s", l, eta(l))
	}
	c.advance(time.Second)
	a.Done(nil)
	got = jsonLines(t, buf)
	l = got[len(got)-1]
	if l.Status != "done" || l.Bytes != 25<<20 || l.Total != l.Bytes || eta(l) != "0" || l.Rate != (25<<20)/11 {
		t.Errorf("done line %+v eta %s", l, eta(l))
	}
}

// An unknown total never gets a percentage nor an ETA; a task past its total
// never shows more than 100%.
func TestUnknownTotalAndClamp(t *testing.T) {
	r, buf, c := newTest(t, Plain)
	u := r.Task("unknown", 0)
	g := r.Task("grew", 1000)
	c.advance(PlainInterval)
	u.Add(500)
	g.Add(1500)
	out := buf.String()
	if !strings.Contains(out, "unknown: started (size unknown)\n") || !strings.Contains(out, "unknown: 500B / ?  100B/s\n") {
		t.Errorf("unknown total:\n%s", out)
	}
	if !strings.Contains(out, "grew: 1.5kB / 1kB  100%  300B/s  ETA 0s\n") {
		t.Errorf("grown total:\n%s", out)
	}
	if strings.Contains(out, "150%") || strings.Contains(out, "ETA -") {
		t.Errorf("over 100%% or negative ETA:\n%s", out)
	}

	r, buf, c = newTest(t, JSON)
	u = r.Task("unknown", -5) // negative totals are unknown too
	c.advance(PlainInterval)
	u.Add(10)
	u.Done(errors.New("boom"))
	for _, l := range jsonLines(t, buf) {
		if l.Total != 0 || l.ETASeconds != nil {
			t.Errorf("unknown total line %+v", l)
		}
	}
}

// Before any rate is known (the first line) the ETA is absent, not infinite.
func TestNoETAWithoutRate(t *testing.T) {
	r, buf, _ := newTest(t, JSON)
	r.Task("x", 100)
	l := jsonLines(t, buf)[0]
	if l.ETASeconds != nil || l.Rate != 0 || l.Total != 100 || l.Status != "running" {
		t.Errorf("first line %+v", l)
	}
}

// Every field of a json line, phase of events included; nothing else.
func TestJSONFields(t *testing.T) {
	r, buf, c := newTest(t, JSON)
	r.SetStep("restore", "restore")
	r.Event("verifying")
	a := r.Start(Spec{Name: "restore ./data", Source: "./data", Total: 100})
	r.SetStep("rollback", "other") // a started task keeps its op and phase
	c.advance(PlainInterval)
	a.Add(50)
	a.Done(errors.New("disk full"))
	r.SetStep("", "")
	r.Event("done")
	raw := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		`{"schema_version":1,"time":"2026-11-25T22:00:00Z","op":"restore","phase":"restore","event":"verifying"}`,
		`{"schema_version":1,"time":"2026-11-25T22:00:00Z","op":"restore","phase":"restore","task":"restore ./data","source":"./data","bytes":0,"total":100,"rate":0,"status":"running"}`,
		`{"schema_version":1,"time":"2026-11-25T22:00:05Z","op":"restore","phase":"restore","task":"restore ./data","source":"./data","bytes":50,"total":100,"rate":10,"eta_seconds":5,"status":"running"}`,
		`{"schema_version":1,"time":"2026-11-25T22:00:05Z","op":"restore","phase":"restore","task":"restore ./data","source":"./data","bytes":50,"total":100,"rate":10,"eta_seconds":5,"status":"error","error":"disk full"}`,
		`{"schema_version":1,"time":"2026-11-25T22:00:05Z","event":"done"}`,
	}
	if strings.Join(raw, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(raw, "\n"), strings.Join(want, "\n"))
	}
}

func TestTTYPercentRateETA(t *testing.T) {
	r, buf, c := newTest(t, TTY)
	a := r.Start(Spec{Name: "data", Source: "data", Total: 10 << 20})
	for i := 0; i < 4; i++ {
		c.advance(500 * time.Millisecond)
		a.Add(512 << 10)
	}
	out := buf.String()
	last := out[strings.LastIndex(out, "\r\x1b[J"):]
	if want := "\r\x1b[Jdata  2.097MB / 10.49MB   20%  1.049MB/s  ETA 8s\n"; last != want {
		t.Errorf("live line %q, want %q", last, want)
	}
	c.advance(time.Second)
	a.Add(20 << 20) // grew past its total
	out = buf.String()
	last = out[strings.LastIndex(out, "\r\x1b[J"):]
	if !strings.Contains(last, "100%") || !strings.Contains(last, "ETA 0s") {
		t.Errorf("past the total: %q", last)
	}
}
