// Package progress reports byte progress of concurrent tasks (one per backed
// up or restored source) for humans and machines.
//
// Modes:
//
//   - tty: one line per active task, redrawn in place (ANSI cursor up + clear)
//     at most ~10 times a second, with bytes done/total, percentage, rate and
//     ETA; finished tasks and events scroll above the live block.
//   - plain: a line when a task starts and when it ends, and for long tasks at
//     most one progress line every PlainInterval; events as lines.
//   - json: one JSON object per line, {"time","task","bytes","total","status",
//     "error"} for tasks (status running|done|error) and {"time","event"} for
//     events; running lines are rate-limited like plain lines.
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
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/term"
)

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
)

// Reporter writes progress of tasks to one writer.
type Reporter struct {
	mode  Mode
	w     io.Writer
	width int // terminal width in tty mode (0: unknown)
	now   func() time.Time

	mu       sync.Mutex
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

// Task is one unit of work with a byte count.
type Task struct {
	r       *Reporter
	name    string
	total   int64
	start   time.Time
	bytes   atomic.Int64
	last    time.Time // last plain/json progress line (guarded by r.mu)
	ended   atomic.Bool
	err     error
	endTime time.Time
}

// Task starts a task; total may be 0 (unknown).
func (r *Reporter) Task(name string, total int64) *Task {
	t := &Task{r: r, name: name, total: total}
	r.mu.Lock()
	defer r.mu.Unlock()
	t.start = r.now()
	t.last = t.start
	if r.closed || r.mode == Quiet {
		return t
	}
	r.active = append(r.active, t)
	switch r.mode {
	case Plain:
		if total > 0 {
			r.printf("%s: started (%s)\n", name, FormatBytes(total))
		} else {
			r.printf("%s: started\n", name)
		}
	case JSON:
		r.json(t, "running", nil)
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
				r.json(t, "running", nil)
			}
		}
		r.mu.Unlock()
	}
}

// Bytes returns the bytes done so far.
func (t *Task) Bytes() int64 { return t.bytes.Load() }

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
			r.json(t, "error", err)
		} else {
			r.json(t, "done", nil)
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
		r.writeJSON(map[string]any{"time": r.now().UTC().Format(time.RFC3339Nano), "event": msg})
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

type jsonLine struct {
	Time   string `json:"time"`
	Task   string `json:"task"`
	Bytes  int64  `json:"bytes"`
	Total  int64  `json:"total"`
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

func (r *Reporter) json(t *Task, status string, err error) {
	l := jsonLine{Time: r.now().UTC().Format(time.RFC3339Nano), Task: t.name, Bytes: t.bytes.Load(), Total: t.total, Status: status}
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

// status is "1.2 MiB / 3.4 MiB  35%  1.1 MiB/s  ETA 2s" (or without total).
func (t *Task) status(now time.Time) string {
	done := t.bytes.Load()
	el := now.Sub(t.start)
	rate := 0.0
	if el > 0 {
		rate = float64(done) / el.Seconds()
	}
	var b strings.Builder
	b.WriteString(FormatBytes(done))
	if t.total > 0 {
		fmt.Fprintf(&b, " / %s  %3.0f%%", FormatBytes(t.total), 100*float64(done)/float64(t.total))
	}
	fmt.Fprintf(&b, "  %s/s", FormatBytes(int64(rate)))
	if t.total > 0 && rate > 0 && done < t.total {
		eta := time.Duration(float64(t.total-done) / rate * float64(time.Second))
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
		rate = fmt.Sprintf(" (%s/s)", FormatBytes(int64(float64(done)/el.Seconds())))
	}
	return fmt.Sprintf("%s: done, %s in %s%s", t.name, FormatBytes(done), formatDuration(el), rate)
}

// FormatBytes renders n with binary units ("512 B", "1.5 KiB", "3.2 GiB").
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
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
