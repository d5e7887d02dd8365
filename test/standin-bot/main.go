// Command standin-bot stands in for MaiBot in docker-maim's end-to-end tests.
//
// It behaves like the parts of MaiBot that an upgrade tool has to survive, and nothing more:
//
//   - its version is baked in at build time (-ldflags "-X main.version=1.0.0");
//   - it reads a TOML config (default /bot/config/bot_config.toml) and, when the file is
//     missing, first copies its template (/bot/template/bot_config_template.toml) there;
//   - it writes to its data dir (/bot/data): one line per start appended to starts.log, the
//     effective config as effective.json (deterministic bytes: same config, same file), and a
//     data file data.json carrying a schema version. The schema is the version's major number:
//     a newer bot migrates older data in place, an older bot refuses to start (exit 3) on newer
//     data, like MaiBot 1.x with PRAGMA user_version;
//   - it logs MaiBot's ready banner (maibot.go) and "bot ready version=X" once started and
//     then keeps /tmp/healthy fresh, which the "healthcheck" subcommand (the image's
//     HEALTHCHECK) checks;
//   - fault switches, from env BOT_FAIL or config [debug].fail: "crash" (exit 1 at once),
//     "crash-late" (exit 1 after the data migration), "unhealthy" (runs, never healthy),
//     "slow" (ready after BOT_SLOW_SECONDS or [debug].slow_seconds seconds), "crash-after"
//     (ready and healthy, then exit 1 after BOT_CRASH_AFTER seconds, default 3: with a restart
//     policy, a service that looks fine at first and then crash-loops). BOT_FAIL_ON=VERSION[,...]
//     limits env BOT_FAIL to those versions (an upgrade whose new version alone fails);
//   - with BOT_MAIBOT=0.12, adapter or 1.x it also plays one service of a MaiBot deployment
//     (maibot.go): the .env file bind, the adapter's config, MaiBot.db's user_version moved
//     forward and a newer one refused, the 0.x -> 1.x confirmation variable, required binds;
//   - with BOT_CHURN=DIR[,DIR...] and a file DIR/churn-on present at start, it changes DIR
//     without pause while it runs (writes, renames, truncations, deletions, a file rewritten
//     with its size and mtime put back) and on SIGTERM stops, removes churn-on and exits:
//     data changing all through a hot backup, quiet once stopped (churn.go);
//   - SIGTERM and SIGINT stop it at once with exit 0.
//
// Subcommands: (none) run; "healthcheck"; "print-config" (effective config as JSON on stdout,
// changes nothing); "version"; "wipe DIR..." (empties dirs: the test rig's cleanup of
// root-owned bind-mount data when tests run as a non-root user). Paths can be moved with BOT_CONFIG, BOT_TEMPLATE, BOT_DATA and
// BOT_HEALTH_FILE (used by the program's own tests).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.0.0-dev"

// Exit codes.
const (
	exitOK        = 0
	exitCrash     = 1 // BOT_FAIL=crash / crash-late, or an unexpected error
	exitConfig    = 2 // the config cannot be read or parsed
	exitSchema    = 3 // the data was written by a newer major version
	healthMaxAge  = 5 * time.Second
	healthRefresh = time.Second
)

type paths struct {
	config, template, data, health string
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func defaultPaths() paths {
	return paths{
		config:   envOr("BOT_CONFIG", "/bot/config/bot_config.toml"),
		template: envOr("BOT_TEMPLATE", "/bot/template/bot_config_template.toml"),
		data:     envOr("BOT_DATA", "/bot/data"),
		health:   envOr("BOT_HEALTH_FILE", "/tmp/healthy"),
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	p := defaultPaths()
	cmd := ""
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "":
		return serve(p, stdout, stderr)
	case "healthcheck":
		return healthcheck(p, stderr)
	case "print-config", "--print-config":
		eff, err := effectiveConfig(p, false, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "bot error: %v\n", err)
			return exitConfig
		}
		stdout.Write(eff.marshal())
		return exitOK
	case "wipe":
		// Test-rig helper: empty the given dirs (as the container's root), so a non-root test
		// process can remove bind-mounted trees that the bot wrote as root.
		rc := exitOK
		for _, dir := range args[1:] {
			entries, err := os.ReadDir(dir)
			if err != nil {
				fmt.Fprintf(stderr, "bot wipe: %v\n", err)
				rc = exitCrash
				continue
			}
			for _, e := range entries {
				if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
					fmt.Fprintf(stderr, "bot wipe: %v\n", err)
					rc = exitCrash
				}
			}
		}
		return rc
	case "version", "--version":
		fmt.Fprintln(stdout, version)
		return exitOK
	default:
		fmt.Fprintf(stderr, "usage: bot [healthcheck|print-config|version|wipe DIR...]\n")
		return exitConfig
	}
}

// major returns the major number of a version such as "2.0.0" (1 when unparsable).
func major(v string) int {
	v = strings.TrimPrefix(v, "v")
	if i := strings.IndexByte(v, '.'); i >= 0 {
		v = v[:i]
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// effective is what the bot loaded: written to effective.json and printed by print-config.
type effective struct {
	Version              string         `json:"version"`
	Schema               int            `json:"schema"`
	ConfigPath           string         `json:"config_path"`
	InnerVersion         string         `json:"inner_version"`
	TemplateInnerVersion string         `json:"template_inner_version"`
	Fail                 string         `json:"fail"`
	SlowSeconds          int            `json:"slow_seconds"`
	Config               map[string]any `json:"config"`
}

func (e *effective) marshal() []byte {
	b, _ := json.MarshalIndent(e, "", "  ") // maps are sorted: deterministic bytes
	return append(b, '\n')
}

func innerVersion(cfg map[string]any) string {
	if inner, ok := cfg["inner"].(map[string]any); ok {
		if v, ok := inner["version"].(string); ok {
			return v
		}
	}
	return ""
}

func parseTOML(b []byte) (map[string]any, error) {
	cfg := map[string]any{}
	if err := toml.Unmarshal(b, &cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// effectiveConfig reads the config (creating it from the template when create is set and the
// file is missing; reading the template in its place otherwise) and resolves the fault switches.
func effectiveConfig(p paths, create bool, log io.Writer) (*effective, error) {
	tmpl, tmplErr := os.ReadFile(p.template)
	raw, err := os.ReadFile(p.config)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if tmplErr != nil {
			return nil, fmt.Errorf("config %s missing and no template: %w", p.config, tmplErr)
		}
		raw = tmpl
		if create {
			if err := os.MkdirAll(filepath.Dir(p.config), 0o755); err != nil {
				return nil, err
			}
			if err := os.WriteFile(p.config, tmpl, 0o644); err != nil {
				return nil, err
			}
			fmt.Fprintf(log, "bot config created from template path=%s\n", p.config)
		}
	case err != nil:
		return nil, err
	}
	cfg, err := parseTOML(raw)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", p.config, err)
	}
	eff := &effective{
		Version:     version,
		Schema:      major(version),
		ConfigPath:  p.config,
		Config:      cfg,
		SlowSeconds: 5,
	}
	eff.InnerVersion = innerVersion(cfg)
	if tmplErr == nil {
		if t, err := parseTOML(tmpl); err == nil {
			eff.TemplateInnerVersion = innerVersion(t)
		}
	}
	if dbg, ok := cfg["debug"].(map[string]any); ok {
		if f, ok := dbg["fail"].(string); ok {
			eff.Fail = f
		}
		if n, ok := dbg["slow_seconds"].(int64); ok {
			eff.SlowSeconds = int(n)
		}
	}
	if f := os.Getenv("BOT_FAIL"); f != "" && failsOn(os.Getenv("BOT_FAIL_ON")) {
		eff.Fail = f
	}
	if s := os.Getenv("BOT_SLOW_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("BOT_SLOW_SECONDS=%q: %w", s, err)
		}
		eff.SlowSeconds = n
	}
	switch eff.Fail {
	case "", "crash", "crash-late", "crash-after", "unhealthy", "slow":
	default:
		return nil, fmt.Errorf("unknown fail mode %q", eff.Fail)
	}
	return eff, nil
}

// failsOn reports whether env BOT_FAIL applies to this version: BOT_FAIL_ON is empty (every
// version) or a comma-separated list of versions that holds this one. It lets a compose file
// make only the new version of an upgrade fail, so a rollback to the old one can succeed.
func failsOn(list string) bool {
	if strings.TrimSpace(list) == "" {
		return true
	}
	for _, v := range strings.Split(list, ",") {
		if strings.TrimSpace(v) == version {
			return true
		}
	}
	return false
}

// dataFile is the bot's "database": only its schema matters.
type dataFile struct {
	Schema     int      `json:"schema"`
	CreatedBy  string   `json:"created_by"`
	Migrations []string `json:"migrations,omitempty"`
}

func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// openData creates, checks or migrates data.json. A schema newer than ours is errSchema.
var errSchema = errors.New("data schema too new")

func openData(dir string, schema int, log io.Writer) error {
	path := filepath.Join(dir, "data.json")
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		d := dataFile{Schema: schema, CreatedBy: version}
		b, _ := json.MarshalIndent(d, "", "  ")
		fmt.Fprintf(log, "bot data created schema=%d\n", schema)
		return writeFileAtomic(path, append(b, '\n'))
	}
	if err != nil {
		return err
	}
	var d dataFile
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("data file %s is corrupt: %w", path, err)
	}
	switch {
	case d.Schema > schema:
		return fmt.Errorf("%w: data schema %d is newer than this bot supports (%d); refusing to start", errSchema, d.Schema, schema)
	case d.Schema < schema:
		fmt.Fprintf(log, "bot migrating data schema %d -> %d\n", d.Schema, schema)
		d.Migrations = append(d.Migrations, fmt.Sprintf("%d->%d by %s", d.Schema, schema, version))
		d.Schema = schema
		b, _ := json.MarshalIndent(d, "", "  ")
		return writeFileAtomic(path, append(b, '\n'))
	}
	return nil
}

// serve is the bot's life: it reads its configuration, prepares its data, comes up (ready
// lines, maybe after a slow start), then keeps its health file fresh until a signal stops it
// or a fail= mode makes it crash. It returns the process's exit code.
func serve(p paths, stdout, stderr io.Writer) int {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	fmt.Fprintf(stdout, "bot starting version=%s\n", version)

	eff, exit, done := loadConfig(p, stdout, stderr)
	if done {
		return exit
	}
	if exit, done := prepareData(p, eff, stdout, stderr); done {
		return exit
	}
	if eff.Fail == "crash-late" {
		fmt.Fprintf(stderr, "bot crashing on purpose (fail=crash-late) version=%s\n", version)
		return exitCrash
	}
	_ = os.Remove(p.health) // a previous run's file (container restart) must not count
	if eff.Fail == "slow" {
		fmt.Fprintf(stdout, "bot slow start: ready in %ds\n", eff.SlowSeconds)
		select {
		case <-time.After(time.Duration(eff.SlowSeconds) * time.Second):
		case s := <-sig:
			fmt.Fprintf(stdout, "bot stopping signal=%s\n", s)
			return exitOK
		}
	}
	fmt.Fprintln(stdout, maibotBanner(os.Getenv("BOT_MAIBOT")))
	fmt.Fprintf(stdout, "bot ready version=%s\n", version)

	crash, exit, done := crashTimer(eff, stderr)
	if done {
		return exit
	}
	stopChurn := startChurn(os.Getenv("BOT_CHURN"), stderr)
	defer stopChurn()
	return stayUp(p, eff, sig, crash, stdout, stderr)
}

// loadConfig reads the effective configuration and warns when its [inner].version differs
// from the template's. The bot ends (done, with exit) on a bad configuration or fail=crash.
func loadConfig(p paths, stdout, stderr io.Writer) (eff *effective, exit int, done bool) {
	eff, err := effectiveConfig(p, true, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "bot error: %v\n", err)
		return nil, exitConfig, true
	}
	if eff.Fail == "crash" {
		fmt.Fprintf(stderr, "bot crashing on purpose (fail=crash) version=%s\n", version)
		return nil, exitCrash, true
	}
	if eff.InnerVersion != eff.TemplateInnerVersion {
		fmt.Fprintf(stdout, "bot warning: config [inner].version %q differs from the template's %q\n",
			eff.InnerVersion, eff.TemplateInnerVersion)
	}
	return eff, 0, false
}

// prepareData starts the MaiBot mode (BOT_MAIBOT) and opens the data directory: the data
// file at the configured schema, a line in starts.log, effective.json. The bot ends (done,
// with exit) when one of them fails.
func prepareData(p paths, eff *effective, stdout, stderr io.Writer) (exit int, done bool) {
	if mode := os.Getenv("BOT_MAIBOT"); mode != "" {
		if err := maibotStart(mode, p, eff, stdout); err != nil {
			fmt.Fprintf(stderr, "bot error: %v\n", err)
			var me *maibotError
			if errors.As(err, &me) {
				return me.code, true
			}
			return exitCrash, true
		}
	}
	if err := os.MkdirAll(p.data, 0o755); err != nil {
		fmt.Fprintf(stderr, "bot error: %v\n", err)
		return exitCrash, true
	}
	if err := openData(p.data, eff.Schema, stdout); err != nil {
		fmt.Fprintf(stderr, "bot error: %v\n", err)
		if errors.Is(err, errSchema) {
			return exitSchema, true
		}
		return exitCrash, true
	}
	if err := appendLine(filepath.Join(p.data, "starts.log"),
		fmt.Sprintf("start version=%s time=%s\n", version, time.Now().UTC().Format(time.RFC3339Nano))); err != nil {
		fmt.Fprintf(stderr, "bot error: %v\n", err)
		return exitCrash, true
	}
	if err := writeFileAtomic(filepath.Join(p.data, "effective.json"), eff.marshal()); err != nil {
		fmt.Fprintf(stderr, "bot error: %v\n", err)
		return exitCrash, true
	}
	return 0, false
}

// crashTimer is when fail=crash-after crashes the bot: BOT_CRASH_AFTER seconds (default 3)
// after it is ready; nil (never) for other modes. A bad BOT_CRASH_AFTER ends the bot (done,
// with exit).
func crashTimer(eff *effective, stderr io.Writer) (crash <-chan time.Time, exit int, done bool) {
	if eff.Fail != "crash-after" {
		return nil, 0, false
	}
	after := 3 * time.Second
	if s := os.Getenv("BOT_CRASH_AFTER"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			fmt.Fprintf(stderr, "bot error: BOT_CRASH_AFTER=%q: %v\n", s, err)
			return nil, exitConfig, true
		}
		after = time.Duration(n) * time.Second
	}
	return time.After(after), 0, false
}

// stayUp keeps the health file fresh (unless fail=unhealthy) until a signal stops the bot or
// crash fires.
func stayUp(p paths, eff *effective, sig <-chan os.Signal, crash <-chan time.Time, stdout, stderr io.Writer) int {
	tick := time.NewTicker(healthRefresh)
	defer tick.Stop()
	for {
		if eff.Fail != "unhealthy" {
			if err := touch(p.health); err != nil {
				fmt.Fprintf(stderr, "bot warning: health file: %v\n", err)
			}
		}
		select {
		case s := <-sig:
			_ = os.Remove(p.health)
			fmt.Fprintf(stdout, "bot stopping signal=%s\n", s)
			return exitOK
		case <-tick.C:
		case <-crash:
			_ = os.Remove(p.health)
			fmt.Fprintf(stderr, "bot crashing on purpose (fail=crash-after) version=%s\n", version)
			return exitCrash
		}
	}
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func touch(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o1777); err != nil {
		return err
	}
	now := time.Now()
	if err := os.Chtimes(path, now, now); err == nil {
		return nil
	}
	return os.WriteFile(path, []byte(version+"\n"), 0o644)
}

func healthcheck(p paths, stderr io.Writer) int {
	st, err := os.Stat(p.health)
	if err != nil {
		fmt.Fprintf(stderr, "unhealthy: %v\n", err)
		return 1
	}
	if age := time.Since(st.ModTime()); age > healthMaxAge {
		fmt.Fprintf(stderr, "unhealthy: %s is %s old\n", p.health, age.Round(time.Second))
		return 1
	}
	b, _ := os.ReadFile(p.health)
	fmt.Fprintf(stderr, "healthy: %s", bytes.TrimSpace(b))
	return 0
}
