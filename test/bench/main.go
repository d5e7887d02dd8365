// Command bench is the helper of scripts/bench.sh (`make bench`). It is not part of the product.
//
//	bench gen DIR        fill DIR with the benchmark data set (deterministic, ~800 MB):
//	                     20000 small files of varied sizes and kinds under nested directories,
//	                     log/app.log (~300 MB of realistic log lines, compressible) and
//	                     blob/random.bin (200 MiB from a PRNG, incompressible).
//	                     Prints "files=N bytes=B" (regular files, content bytes).
//	bench count DIR      prints "files=N bytes=B" of the regular files below DIR.
//	bench run VOL OUT -- COMMAND...
//	                     runs COMMAND, sampling the peak RSS of its process tree, of its
//	                     docker-maim processes and of the containers that mount volume VOL
//	                     (Docker containers found by /proc/PID/cgroup); writes them to OUT.
//
// It is built static (CGO_ENABLED=0), so `gen` also runs inside a FROM-scratch container.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: bench gen DIR | bench count DIR | bench run VOL OUT -- COMMAND...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2])
	case "count":
		var files, bytes int64
		files, bytes, err = count(os.Args[2])
		if err == nil {
			fmt.Printf("files=%d bytes=%d\n", files, bytes)
		}
	case "run":
		// bench run VOL OUT -- COMMAND...
		if len(os.Args) < 6 || os.Args[4] != "--" {
			err = errors.New("usage: bench run VOL OUT -- COMMAND...")
			break
		}
		var code int
		code, err = run(os.Args[2], os.Args[3], os.Args[5:])
		if err == nil {
			os.Exit(code)
		}
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// ---- data set ----

const (
	smallFiles = 20000
	minSmall   = 64      // bytes
	maxSmall   = 100_000 // log-uniform sizes: mean ~13.6 kB, ~270 MB in all
	logBytes   = 300 << 20
	blobBytes  = 200 << 20
	seed       = 20260601
)

func gen(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	var mu sync.Mutex
	var files, total int64
	add := func(n int64) { mu.Lock(); files++; total += n; mu.Unlock() }

	wg.Add(2)
	go func() { defer wg.Done(); n, err := genLog(filepath.Join(dir, "log", "app.log")); add(n); errs <- err }()
	go func() {
		defer wg.Done()
		n, err := genBlob(filepath.Join(dir, "blob", "random.bin"))
		add(n)
		errs <- err
	}()
	const workers = 4
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(w)))
			var buf []byte
			for i := w; i < smallFiles; i += workers {
				// 100 top directories, 10 sub directories each, 20 files per leaf.
				p := filepath.Join(dir, "small", fmt.Sprintf("d%02d", i%100), fmt.Sprintf("s%d", (i/100)%10), smallName(i))
				if i%1000 < 10 {
					p = filepath.Join(dir, "small", fmt.Sprintf("d%02d", i%100), smallName(i))
				}
				size := int(float64(minSmall) * math.Pow(float64(maxSmall)/minSmall, r.Float64()))
				buf = smallContent(r, buf[:0], i, size)
				if err := writeFile(p, buf, 0o644); err != nil {
					errs <- err
					return
				}
				add(int64(len(buf)))
			}
			errs <- nil
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	// A symlink and a hardlink, so the archive paths meet them too (not counted as content).
	_ = os.Symlink("../log/app.log", filepath.Join(dir, "small", "latest.log"))
	_ = os.Link(filepath.Join(dir, "small", "d00", smallName(0)), filepath.Join(dir, "small", "d00", "hardlink-of-first"))
	fmt.Printf("files=%d bytes=%d\n", files, total)
	return nil
}

func smallName(i int) string {
	exts := []string{".json", ".txt", ".db", ".png", ".toml", ".bin", ".md", ".log"}
	return fmt.Sprintf("f%05d%s", i, exts[i%len(exts)])
}

var words = strings.Fields(`the a bot message user group reply memory context token model prompt chat
plugin config value error warning retry timeout cache session event queue send receive update
sticker emoji image voice expression relation knowledge schedule mood person heartflow llm embedding`)

// smallContent makes one small file: mostly text (JSON-ish records, prose, config), some
// binary (random: like images or compressed data) and some sparse binary (like a database page).
func smallContent(r *rand.Rand, b []byte, i, size int) []byte {
	switch i % 8 {
	case 3, 5: // .png, .bin: incompressible
		for len(b) < size {
			b = appendUint64(b, r.Uint64())
		}
	case 2: // .db: pages of zeros with some records
		for len(b) < size {
			if r.IntN(4) == 0 {
				b = appendText(r, b, 200)
			} else {
				b = append(b, make([]byte, 512)...)
			}
		}
	default:
		for len(b) < size {
			b = appendText(r, b, 120)
		}
	}
	return b[:size]
}

func appendUint64(b []byte, v uint64) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24), byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
}

func appendText(r *rand.Rand, b []byte, n int) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendUint(b, r.Uint64N(1_000_000_000), 10)
	b = append(b, `,"text":"`...)
	for k := 0; k < 6+r.IntN(n/8); k++ {
		if k > 0 {
			b = append(b, ' ')
		}
		b = append(b, words[r.IntN(len(words))]...)
	}
	b = append(b, `"}`...)
	return append(b, '\n')
}

var (
	levels  = []string{"INFO ", "INFO ", "INFO ", "DEBUG", "DEBUG", "WARN ", "ERROR"}
	loggers = []string{"chat.handler", "llm.request", "memory.build", "plugin.manager", "msg.receive", "api.server", "schedule", "relation.update"}
	msgs    = []string{
		"processed message", "sent reply", "request completed", "cache miss, fetching", "retrying after timeout",
		"loaded plugin", "updated relationship score", "built memory graph", "rate limited by upstream", "connection reset by peer",
	}
)

// genLog writes logBytes of log lines: timestamps advancing, a few levels and loggers, ids.
func genLog(p string) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return 0, err
	}
	f, err := os.Create(p)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rand.NewPCG(seed, 99))
	t := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var line []byte
	var n int64
	for n < logBytes {
		t = t.Add(time.Duration(r.IntN(40)) * time.Millisecond)
		line = t.AppendFormat(line[:0], "2006-01-02T15:04:05.000Z07:00")
		line = append(line, ' ')
		line = append(line, levels[r.IntN(len(levels))]...)
		line = append(line, " ["...)
		line = append(line, loggers[r.IntN(len(loggers))]...)
		line = append(line, "] "...)
		line = append(line, msgs[r.IntN(len(msgs))]...)
		line = append(line, " msg_id="...)
		line = strconv.AppendUint(line, r.Uint64()>>20, 16)
		line = append(line, " user="...)
		line = strconv.AppendUint(line, 10000+r.Uint64N(5000), 10)
		line = append(line, " group="...)
		line = strconv.AppendUint(line, 100000+r.Uint64N(300), 10)
		line = append(line, " latency_ms="...)
		line = strconv.AppendUint(line, r.Uint64N(2500), 10)
		line = append(line, '\n')
		if n+int64(len(line)) > logBytes {
			line = line[:logBytes-n]
		}
		if _, err := w.Write(line); err != nil {
			f.Close()
			return n, err
		}
		n += int64(len(line))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return n, err
	}
	return n, f.Close()
}

func genBlob(p string) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return 0, err
	}
	f, err := os.Create(p)
	if err != nil {
		return 0, err
	}
	src := rand.NewChaCha8([32]byte{1, 2, 3})
	buf := make([]byte, 1<<20)
	var n int64
	for n < blobBytes {
		_, _ = src.Read(buf)
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return n, err
		}
		n += int64(len(buf))
	}
	return n, f.Close()
}

var dirMade sync.Map

func writeFile(p string, b []byte, mode os.FileMode) error {
	d := filepath.Dir(p)
	if _, ok := dirMade.Load(d); !ok {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		dirMade.Store(d, true)
	}
	return os.WriteFile(p, b, mode)
}

func count(dir string) (files, total int64, err error) {
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			files++
			total += fi.Size()
		}
		return nil
	})
	return files, total, err
}

// ---- measuring runner ----

type ctr struct {
	matched bool
	hwm     map[int]int64 // pid -> largest VmHWM seen (kB)
	cgPeak  int64         // bytes
	cgPath  string
}

type proc struct {
	ppid   int
	ctr    string // container id, "" on the host
	seen   int    // samples since first seen
	plugin bool   // a docker-maim process (command line)
	hwm    int64
}

// run runs COMMAND and samples /proc every 50 ms while it runs. It writes to out:
//
//	tree_kib=T plugin_kib=P container_kib=K containers=N cgroup_kib=C
//
// T: the largest peak RSS (VmHWM) of one process of COMMAND's tree; P: the same for processes
// of the tree running the docker-maim executable; K: the largest, over containers that
// mount the volume vol (found in /proc/PID/mountinfo), sum of their processes' VmHWM; C: the
// largest cgroup memory peak of such a container (includes page cache; 0 when unreadable).
// The exit status is COMMAND's.
func run(vol, out string, argv []string) (int, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	s := &sampler{root: cmd.Process.Pid, vol: vol, procs: map[int]*proc{}, ctrs: map[string]*ctr{}}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var werr error
loop:
	for {
		select {
		case werr = <-done:
			break loop
		case <-tick.C:
			s.sample()
		}
	}
	if err := os.WriteFile(out, []byte(s.peaks()), 0o644); err != nil {
		return 0, err
	}
	if werr != nil {
		var ee *exec.ExitError
		if errors.As(werr, &ee) {
			return ee.ExitCode(), nil
		}
		return 0, werr
	}
	return 0, nil
}

// sampler is what run learned of the processes and containers it saw.
type sampler struct {
	root  int    // COMMAND's pid
	vol   string // the volume whose containers are measured
	procs map[int]*proc
	ctrs  map[string]*ctr
}

// inTree reports whether pid descends from COMMAND, by the parents seen so far.
func (s *sampler) inTree(pid int) bool {
	for i := 0; i < 64 && pid > 1; i++ {
		if pid == s.root {
			return true
		}
		p := s.procs[pid]
		if p == nil {
			return false
		}
		pid = p.ppid
	}
	return false
}

// sample reads /proc once: every live process is noted, then measured as a process of
// COMMAND's tree or of a container.
func (s *sampler) sample() {
	ents, _ := os.ReadDir("/proc")
	var live []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p := s.procs[pid]
		if p == nil {
			p = &proc{ppid: ppidOf(pid), ctr: containerOf(pid)}
			s.procs[pid] = p
		}
		p.seen++
		live = append(live, pid)
	}
	for _, pid := range live {
		p := s.procs[pid]
		if p.ctr == "" {
			s.sampleHost(pid, p)
			continue
		}
		s.sampleContainer(pid, p)
	}
	for _, c := range s.ctrs {
		if c.matched && c.cgPath != "" {
			if v := readCgPeak(c.cgPath); v > c.cgPeak {
				c.cgPeak = v
			}
		}
	}
}

// sampleHost measures a host process of COMMAND's tree.
func (s *sampler) sampleHost(pid int, p *proc) {
	if !s.inTree(pid) {
		return
	}
	// A process may still exec into docker-maim: look a few times.
	if !p.plugin && p.seen <= 20 && isPlugin(pid) {
		p.plugin = true
	}
	p.hwm = max(p.hwm, vmHWM(pid))
}

// sampleContainer measures a process of a container that mounts the volume.
func (s *sampler) sampleContainer(pid int, p *proc) {
	c := s.ctrs[p.ctr]
	if c == nil {
		c = &ctr{hwm: map[int]int64{}, cgPath: cgroupMemPath(pid)}
		s.ctrs[p.ctr] = c
	}
	if !c.matched && p.seen <= 20 && s.vol != "" && mounts(pid, "/volumes/"+s.vol+"/") {
		c.matched = true
	}
	if c.matched {
		if h := vmHWM(pid); h > c.hwm[pid] {
			c.hwm[pid] = h
		}
	}
}

// peaks is the line run writes: the peaks over what was sampled.
func (s *sampler) peaks() string {
	var tree, plug, peak, cg int64
	n := 0
	for _, p := range s.procs {
		if p.ctr == "" && p.hwm > 0 {
			tree = max(tree, p.hwm)
			if p.plugin {
				plug = max(plug, p.hwm)
			}
		}
	}
	for _, c := range s.ctrs {
		if !c.matched {
			continue
		}
		n++
		var sum int64
		for _, h := range c.hwm {
			sum += h
		}
		peak = max(peak, sum)
		cg = max(cg, c.cgPeak)
	}
	return fmt.Sprintf("tree_kib=%d plugin_kib=%d container_kib=%d containers=%d cgroup_kib=%d\n", tree, plug, peak, n, cg>>10)
}

// isPlugin reports whether pid runs the docker-maim executable.
func isPlugin(pid int) bool {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return err == nil && filepath.Base(exe) == "docker-maim"
}

func mounts(pid int, sub string) bool {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	return bytes.Contains(b, []byte(sub))
}

func ppidOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...: comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0
	}
	v, _ := strconv.Atoi(f[1])
	return v
}

// containerOf returns the 64-hex container id in /proc/PID/cgroup, or "".
func containerOf(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		for _, key := range []string{"/docker/", "docker-"} {
			if i := strings.Index(l, key); i >= 0 {
				rest := l[i+len(key):]
				if len(rest) >= 64 && isHex(rest[:64]) {
					return rest[:64]
				}
			}
		}
	}
	return ""
}

// cgroupMemPath returns the memory cgroup directory of pid (v1 "memory" controller or v2).
func cgroupMemPath(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(l, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "memory" {
			return "/sys/fs/cgroup/memory" + parts[2]
		}
		if parts[0] == "0" && parts[1] == "" {
			if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
				return "/sys/fs/cgroup" + parts[2]
			}
		}
	}
	return ""
}

func readCgPeak(dir string) int64 {
	for _, f := range []string{"memory.max_usage_in_bytes", "memory.peak"} {
		if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
			v, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			return v
		}
	}
	return 0
}

func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	i := bytes.Index(b, []byte("VmHWM:"))
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+6 : i+6+bytes.IndexByte(b[i+6:], '\n')]))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseInt(f[0], 10, 64)
	return v
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
