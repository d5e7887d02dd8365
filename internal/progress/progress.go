// Package progress reports byte progress of concurrent tasks (one per backed
// up or restored source) for humans and machines.
//
// A task knows its total when the caller measured the source before copying it
// (0: unknown). Its rate is smoothed (an exponentially weighted moving average with
// time constant RateTau, sampled when a line is drawn), its ETA is what remains of
// the total at that rate. Totals are estimates: a task that goes past its total
// (files grew) shows 100% and an ETA of 0, never more, and a task that ends well
// reports its total as the bytes it did. An unknown total shows no percentage and
// no ETA, never a made-up one.
//
// Modes:
//
//   - tty: one line per active task, redrawn in place (ANSI cursor up + clear)
//     at most ~10 times a second, with bytes done/total, percentage, rate and
//     ETA; finished tasks and events scroll above the live block.
//   - plain: a line when a task starts and when it ends, and for long tasks at
//     most one progress line (with percentage, rate and ETA) every
//     PlainInterval; events as lines.
//   - json: one JSON object per line (docs/json.md, docs/schema/progress.json),
//     each with [SchemaVersion]: task lines ([Line]) with status
//     running|done|error and event lines ([EventLine]); running lines are
//     rate-limited like plain lines. Lines carry the operation and the step
//     set by [Reporter.SetStep], when one is set.
//
// Sizes and rates are shown as docker shows image sizes and pull progress
// (github.com/docker/go-units HumanSize: decimal units, "2.936MB"), so one run
// never prints two unit systems.
//   - quiet: nothing.
//   - auto: tty when w is a terminal (*os.File), plain otherwise.
//
// A Reporter and its Tasks are safe for concurrent use. Output errors are
// ignored: progress never makes an operation fail.
package progress

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/term"
)

// SchemaVersion is the schema_version of every json line (docs/schema/progress.json). It
// changes when a member is removed or changes meaning; a new member does not change it.
const SchemaVersion = 1

// Mode selects the output style.
type Mode string

// The modes.
const (
	Auto  Mode = "auto"
	TTY   Mode = "tty"
	Plain Mode = "plain"
	JSON  Mode = "json"
	Quiet Mode = "quiet"
)

// Modes lists the accepted mode names, for flag help.
var Modes = []Mode{Auto, TTY, Plain, JSON, Quiet}

// ParseMode accepts a mode name ("" means auto).
func ParseMode(s string) (Mode, error) {
	m := Mode(strings.ToLower(strings.TrimSpace(s)))
	if m == "" {
		return Auto, nil
	}
	for _, k := range Modes {
		if m == k {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown progress mode %q (want auto, tty, plain, json or quiet)", s)
}

const (
	// TTYInterval is the minimum time between two redraws in tty mode.
	TTYInterval = 100 * time.Millisecond
	// PlainInterval is the minimum time between two progress lines of one
	// task in plain and json mode.
	PlainInterval = 5 * time.Second
	// RateTau is the time constant of the smoothed rate: a change of speed
	// shows about two thirds of its effect after RateTau.
	RateTau = 5 * time.Second
)

// Reporter writes progress of tasks to one writer.
type Reporter struct {
	mode  Mode
	w     io.Writer
	width int // terminal width in tty mode (0: unknown)
	now   func() time.Time

	mu       sync.Mutex
	op       string
	phase    string
	active   []*Task // in start order
	drawn    int     // live lines currently on screen (tty)
	lastDraw atomic.Int64
	closed   bool
}

// New returns a Reporter writing to w in the given mode.
func New(mode Mode, w io.Writer) (*Reporter, error) {
	m, err := ParseMode(string(mode))
	if err != nil {
		return nil, err
	}
	r := &Reporter{mode: m, w: w, now: time.Now}
	if m == Auto || m == TTY {
		f, isFile := w.(*os.File)
		isTerm := isFile && term.IsTerminal(f.Fd()) && os.Getenv("TERM") != "dumb"
		if m == Auto {
			r.mode = Plain
			if isTerm {
				r.mode = TTY
			}
		}
		if r.mode == TTY && isTerm {
			if ws, err := term.GetWinsize(f.Fd()); err == nil && ws.Width > 0 {
				r.width = int(ws.Width)
			}
		}
	}
	return r, nil
}

// Mode reports the effective mode (auto resolved to tty or plain).
func (r *Reporter) Mode() Mode { return r.mode }

// SetStep names the operation ("upgrade", "restore", "rollback", "backup") and its step
// now running (the name the plan lists: "backup-hot", "merge", "gate", ...); later lines
// carry both. "" clears either.
func (r *Reporter) SetStep(op, phase string) {
	r.mu.Lock()
	r.op, r.phase = op, phase
	r.mu.Unlock()
}

// Phase returns the step set last.
func (r *Reporter) Phase() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.phase
}

// Spec describes a task to start.
type Spec struct {
	Name   string // shown to humans ("restore ./data")
	Source string // the data source it moves ("./data"); "" when none
	Total  int64  // expected bytes; 0 or less: unknown
}

// Task is one unit of work with a byte count.
type Task struct {
	r      *Reporter
	name   string
	source string
	op     string
	phase  string
	start  time.Time
	bytes  atomic.Int64
	ended  atomic.Bool

	// guarded by r.mu
	total       int64
	last        time.Time // last plain/json progress line
	sampleAt    time.Time // last rate sample
	sampleBytes int64
	rate        float64 // smoothed bytes per second
	hasRate     bool
	err         error
	endTime     time.Time
}

// Task starts a task; total may be 0 (unknown).
func (r *Reporter) Task(name string, total int64) *Task {
	return r.Start(Spec{Name: name, Total: total})
}

// Start starts a task.
func (r *Reporter) Start(s Spec) *Task {
	t := &Task{r: r, name: s.Name, source: s.Source, total: max(s.Total, 0)}
	r.mu.Lock()
	defer r.mu.Unlock()
	t.op, t.phase = r.op, r.phase
	t.start = r.now()
	t.last, t.sampleAt = t.start, t.start
	if r.closed || r.mode == Quiet {
		return t
	}
	r.active = append(r.active, t)
	switch r.mode {
	case Plain:
		if t.total > 0 {
			r.printf("%s: started (%s)\n", t.name, FormatBytes(t.total))
		} else {
			r.printf("%s: started (size unknown)\n", t.name)
		}
	case JSON:
		r.json(t, t.start, "running", nil)
	case TTY:
		r.redraw(nil)
	}
	return t
}

// Add records n more bytes done.
func (t *Task) Add(n int64) {
	if n == 0 || t.ended.Load() {
		return
	}
	t.bytes.Add(n)
	r := t.r
	switch r.mode {
	case TTY:
		now := r.now()
		if now.UnixNano()-r.lastDraw.Load() < int64(TTYInterval) {
			return
		}
		r.mu.Lock()
		if !r.closed && now.UnixNano()-r.lastDraw.Load() >= int64(TTYInterval) {
			r.redraw(nil)
		}
		r.mu.Unlock()
	case Plain, JSON:
		now := r.now()
		r.mu.Lock()
		if !r.closed && !t.ended.Load() && now.Sub(t.last) >= PlainInterval {
			t.last = now
			if r.mode == Plain {
				r.printf("%s: %s\n", t.name, t.status(now))
			} else {
				r.json(t, now, "running", nil)
			}
		}
		r.mu.Unlock()
	}
}

// Bytes returns the bytes done so far.
func (t *Task) Bytes() int64 { return t.bytes.Load() }

// Total returns the expected bytes (0: unknown); after a successful Done, the bytes done.
func (t *Task) Total() int64 {
	t.r.mu.Lock()
	defer t.r.mu.Unlock()
	return t.total
}

// Done ends the task, successfully when err is nil. Later calls are ignored.
func (t *Task) Done(err error) {
	if t.ended.Swap(true) {
		return
	}
	r := t.r
	r.mu.Lock()
	defer r.mu.Unlock()
	t.err = err
	t.endTime = r.now()
	if err == nil {
		// The measured size was an estimate; what was done is the size.
		t.total = t.bytes.Load()
	}
	for i, a := range r.active {
		if a == t {
			r.active = append(r.active[:i], r.active[i+1:]...)
			break
		}
	}
	if r.closed || r.mode == Quiet {
		return
	}
	switch r.mode {
	case Plain:
		r.printf("%s\n", t.final())
	case JSON:
		if err != nil {
			r.json(t, t.endTime, "error", err)
		} else {
			r.json(t, t.endTime, "done", nil)
		}
	case TTY:
		r.redraw([]string{t.final()})
	}
}

// Event prints a phase line ("stopping core", ...).
func (r *Reporter) Event(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	switch r.mode {
	case Plain:
		r.printf("%s\n", msg)
	case JSON:
		r.writeJSON(EventLine{SchemaVersion: SchemaVersion, Time: r.now().UTC().Format(time.RFC3339Nano), Op: r.op, Phase: r.phase, Event: msg})
	case TTY:
		r.redraw([]string{msg})
	}
}

// Close draws the final state and stops all output. Tasks still running are
// shown as they are (tty) and produce no further output.
func (r *Reporter) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if r.mode == TTY && len(r.active) > 0 {
		r.redraw(nil)
	}
	r.closed = true
	r.drawn = 0
}

func (r *Reporter) printf(format string, a ...any) {
	fmt.Fprintf(r.w, format, a...)
}

// EventLine is a message line of json mode ("stopping core").
type EventLine struct {
	SchemaVersion int    `json:"schema_version"`
	Time          string `json:"time"`
	Op            string `json:"op,omitempty"`
	Phase         string `json:"phase,omitempty"`
	Event         string `json:"event"`
}

// Line is a task line of json mode.
type Line struct {
	// SchemaVersion is [SchemaVersion].
	SchemaVersion int `json:"schema_version"`
	// Time is when the line was written (RFC 3339, UTC).
	Time string `json:"time"`
	// Op and Phase are the operation and its step when known (see [Reporter.SetStep]).
	Op    string `json:"op,omitempty"`
	Phase string `json:"phase,omitempty"`
	// Task is the task's name as humans see it; Source the data source it moves.
	Task   string `json:"task,omitempty"`
	Source string `json:"source,omitempty"`
	// Bytes done and Total expected (0: unknown; on a done line, the bytes done).
	Bytes int64 `json:"bytes"`
	Total int64 `json:"total"`
	// Rate is the smoothed rate in bytes per second.
	Rate int64 `json:"rate"`
	// ETASeconds is the time left at that rate; absent when the total or the rate is unknown.
	ETASeconds *float64 `json:"eta_seconds,omitempty"`
	// Status is running, done or error; Error the failure of an error line.
	Status string `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
}

// json writes a task line. Called with r.mu held.
func (r *Reporter) json(t *Task, now time.Time, status string, err error) {
	l := Line{SchemaVersion: SchemaVersion, Time: now.UTC().Format(time.RFC3339Nano), Op: t.op, Phase: t.phase, Task: t.name, Source: t.source, Status: status}
	done := t.bytes.Load()
	l.Bytes, l.Total = done, t.total
	rate := t.rateAt(now)
	if status == "done" {
		rate = t.average()
	}
	l.Rate = int64(math.Round(rate))
	if eta, ok := t.eta(done, rate); ok {
		s := math.Round(eta.Seconds()*10) / 10
		l.ETASeconds = &s
	}
	if err != nil {
		l.Error = err.Error()
	}
	r.writeJSON(l)
}

func (r *Reporter) writeJSON(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	r.w.Write(append(b, '\n'))
}

// redraw replaces the live block with lines (printed once, scrolling up)
// followed by one line per active task. Called with r.mu held.
func (r *Reporter) redraw(lines []string) {
	now := r.now()
	r.lastDraw.Store(now.UnixNano())
	var b strings.Builder
	if r.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", r.drawn)
	}
	b.WriteString("\r\x1b[J")
	for _, l := range lines {
		b.WriteString(r.fit(l))
		b.WriteByte('\n')
	}
	for _, t := range r.active {
		b.WriteString(r.fit(t.name + "  " + t.status(now)))
		b.WriteByte('\n')
	}
	r.drawn = len(r.active)
	io.WriteString(r.w, b.String())
}

// fit cuts a line to the terminal width so it never wraps (wrapped lines
// would break the cursor-up arithmetic). Newlines in names are shown as "␤".
func (r *Reporter) fit(s string) string {
	s = strings.ReplaceAll(s, "\n", "␤")
	if r.width <= 1 {
		return s
	}
	rs := []rune(s)
	if len(rs) >= r.width {
		return string(rs[:r.width-1])
	}
	return s
}

// rateAt folds the bytes done since the last sample into the smoothed rate and
// returns it. The first sample is the average since the start. Called with r.mu held.
func (t *Task) rateAt(now time.Time) float64 {
	dt := now.Sub(t.sampleAt).Seconds()
	if dt <= 0 {
		return t.rate
	}
	b := t.bytes.Load()
	inst := float64(b-t.sampleBytes) / dt
	if !t.hasRate {
		t.rate, t.hasRate = inst, true
	} else {
		a := 1 - math.Exp(-dt/RateTau.Seconds())
		t.rate += a * (inst - t.rate)
	}
	t.sampleAt, t.sampleBytes = now, b
	return t.rate
}

// average is the rate over the whole task (for ended tasks).
func (t *Task) average() float64 {
	el := t.endTime.Sub(t.start).Seconds()
	if el <= 0 {
		return 0
	}
	return float64(t.bytes.Load()) / el
}

// percent is done/total clamped to [0, 100]; ok is false for an unknown total.
func (t *Task) percent(done int64) (float64, bool) {
	if t.total <= 0 {
		return 0, false
	}
	return min(100, max(0, 100*float64(done)/float64(t.total))), true
}

// eta is the time left at rate: never negative (0 once done reaches the total),
// unknown (ok false) without a total or, before the end, without a rate.
func (t *Task) eta(done int64, rate float64) (time.Duration, bool) {
	if t.total <= 0 {
		return 0, false
	}
	if done >= t.total {
		return 0, true
	}
	if rate <= 0 {
		return 0, false
	}
	return time.Duration(float64(t.total-done) / rate * float64(time.Second)), true
}

// status is "1.2MB / 3.4MB  35%  1.1MB/s  ETA 2s", or
// "1.2MB / ?  1.1MB/s" with an unknown total. Called with r.mu held.
func (t *Task) status(now time.Time) string {
	done := t.bytes.Load()
	rate := t.rateAt(now)
	var b strings.Builder
	b.WriteString(FormatBytes(done))
	if pct, ok := t.percent(done); ok {
		fmt.Fprintf(&b, " / %s  %3.0f%%", FormatBytes(t.total), math.Floor(pct))
	} else {
		b.WriteString(" / ?")
	}
	fmt.Fprintf(&b, "  %s/s", FormatBytes(int64(rate)))
	if eta, ok := t.eta(done, rate); ok {
		fmt.Fprintf(&b, "  ETA %s", formatDuration(eta))
	}
	return b.String()
}

// final is the line printed when a task ends.
func (t *Task) final() string {
	el := t.endTime.Sub(t.start)
	done := t.bytes.Load()
	if t.err != nil {
		return fmt.Sprintf("%s: failed after %s: %v", t.name, FormatBytes(done), t.err)
	}
	rate := ""
	if el > 0 {
		rate = fmt.Sprintf(" (%s/s)", FormatBytes(int64(t.average())))
	}
	return fmt.Sprintf("%s: done, %s in %s%s", t.name, FormatBytes(done), formatDuration(el), rate)
}

// FormatBytes renders n as docker renders sizes (go-units HumanSize: decimal units, four
// significant digits: "512B", "1.5kB", "3.2GB"), the one unit system of every text output.
func FormatBytes(n int64) string {
	return units.HumanSize(float64(n))
}

func formatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	default:
		return d.Round(time.Second).String()
	}
}
