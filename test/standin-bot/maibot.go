package main

// MaiBot layouts. With env BOT_MAIBOT set, the stand-in also behaves like one service of a
// MaiBot deployment, on top of its usual config / data.json / health behaviour:
//
//   - BOT_MAIBOT=0.12: the 0.12 core. Its .env file bind (BOT_ENV_FILE, default /MaiMBot/.env)
//     must be a file: a directory (what Docker makes of a missing single-file bind) is a
//     config error (exit 2). MaiBot.db (BOT_DB, default $BOT_DATA/MaiBot.db) is created with
//     user_version 0; a database with a user_version above 0 (written by 1.x) is refused
//     (exit 3): the real 0.x silently loses columns there, the stand-in makes it visible.
//   - BOT_MAIBOT=adapter: the 0.12 adapters service. Its config file (BOT_ADAPTER_CONFIG,
//     default /adapters/config.toml) must be a file with [inner].version (exit 2 otherwise).
//   - BOT_MAIBOT=1.x: the 1.x core. MaiBot.db's user_version moves forward to the image's
//     schema (BOT_SQLITE_SCHEMA, default 24 + 2*major: 26 for a 1.x image, 28 for 2.x); a
//     newer database is refused (exit 3); a 0.x database (user_version 0, not empty) is taken
//     over only with MAIBOT_LEGACY_0X_UPGRADE_CONFIRMED=1 (exit 4 otherwise), and its tables
//     are then "renamed" (a line in legacy.log). The paths in BOT_REQUIRE_MOUNTS (comma
//     separated, e.g. "/data/emoji,/MaiMBot/depends-data") must be mount points (exit 2
//     otherwise), so a compose file that lost a bind is seen. A config whose [inner].version
//     differs from the template's is moved to config/old/ and rewritten with the template's
//     version, like the bot's own migration. It answers HTTP on BOT_WEBUI_ADDR (default
//     :8001) with its version, like the WebUI.
//
// BOT_MAIBOT=core is 0.12 on a 1.x image and 1.x on a 2.x or newer one, so the same value in
// both compose files (a two-way merge keeps the user's) plays the version the image is.
//
// The stand-in logs MaiBot's ready line before "bot ready version=X", with or without
// BOT_MAIBOT (a project laid out like MaiBot is gated on it): 1.x mode the banner of its i18n
// catalog (BOT_LOCALES, default /MaiMBot/locales, then <MAIBOT_LOCALE or zh-CN>/
// startup.json, key startup.initialization_completed_banner, {nickname} from BOT_NICKNAME,
// default 麦麦; a missing key or catalog logs the key itself, as MaiBot's t() does); without
// BOT_MAIBOT the same when the catalog is there, else 0.x's fixed line; the 0.12 and adapter
// modes 0.x's fixed line. In 1.x mode a database migration (a database older than
// the image's schema) logs one step every 200ms for BOT_MIGRATE_SECONDS seconds before the
// new schema is written; with BOT_MIGRATE_HANG=1 it logs three steps and then nothing, never
// finishing (a migration that hangs), until SIGTERM.

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	exitNotConfirmed = 4 // 1.x on a 0.x database without MAIBOT_LEGACY_0X_UPGRADE_CONFIRMED=1
	maibotReadyLine  = "全部系统初始化完成，麦麦已成功唤醒"
	sqliteMagic      = "SQLite format 3\x00"
	sqliteHeaderSize = 100
	legacyVar        = "MAIBOT_LEGACY_0X_UPGRADE_CONFIRMED"
)

// maibotError carries the exit code of a MaiBot-mode refusal.
type maibotError struct {
	code int
	msg  string
}

func (e *maibotError) Error() string { return e.msg }

func refuse(code int, format string, a ...any) error {
	return &maibotError{code: code, msg: fmt.Sprintf(format, a...)}
}

// sqliteHeader builds a 100-byte SQLite 3 header (a database of one empty page count) with
// the given user_version: enough for a reader of bytes 60..63.
func sqliteHeader(userVersion uint32) []byte {
	h := make([]byte, sqliteHeaderSize)
	copy(h, sqliteMagic)
	binary.BigEndian.PutUint16(h[16:], 4096) // page size
	h[18], h[19] = 2, 2                      // file format versions: WAL
	h[21], h[22], h[23] = 64, 32, 32         // payload fractions
	binary.BigEndian.PutUint32(h[28:], 1)    // database size in pages
	binary.BigEndian.PutUint32(h[44:], 4)    // schema format
	binary.BigEndian.PutUint32(h[56:], 1)    // text encoding: UTF-8
	binary.BigEndian.PutUint32(h[60:], userVersion)
	return h
}

// readUserVersion reads user_version of an SQLite file; ok is false when the file is missing.
func readUserVersion(path string) (v uint32, ok bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	h := make([]byte, sqliteHeaderSize)
	if _, err := io.ReadFull(f, h); err != nil {
		return 0, true, fmt.Errorf("%s: not a database: %v", path, err)
	}
	if string(h[:16]) != sqliteMagic {
		return 0, true, fmt.Errorf("%s: not an SQLite 3 database", path)
	}
	return binary.BigEndian.Uint32(h[60:64]), true, nil
}

// writeUserVersion rewrites bytes 60..63 of the file in place (creating a fresh database).
func writeUserVersion(path string, v uint32) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err == nil && st.Size() < sqliteHeaderSize {
		page := make([]byte, 4096)
		copy(page, sqliteHeader(v))
		_, err = f.WriteAt(page, 0)
	} else if err == nil {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], v)
		_, err = f.WriteAt(b[:], 60)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// sqliteSchema is the database schema this image migrates to in 1.x mode.
func sqliteSchema() (uint32, error) {
	if s := os.Getenv("BOT_SQLITE_SCHEMA"); s != "" {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("BOT_SQLITE_SCHEMA=%q: %v", s, err)
		}
		return uint32(n), nil
	}
	return uint32(24 + 2*major(version)), nil
}

func dbPath(p paths) string { return envOr("BOT_DB", filepath.Join(p.data, "MaiBot.db")) }

// mountPoints lists this process's mount points (/proc/self/mountinfo field 5).
func mountPoints() (map[string]bool, error) {
	b, err := os.ReadFile(envOr("BOT_MOUNTINFO", "/proc/self/mountinfo"))
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 {
			out[filepath.Clean(f[4])] = true
		}
	}
	return out, nil
}

var innerVersionLine = regexp.MustCompile(`(?m)^(version\s*=\s*)"[^"]*"`)

// maibotMode resolves BOT_MAIBOT=core by the image's major version.
func maibotMode(mode string) string {
	if mode == "core" {
		if major(version) < 2 {
			return "0.12"
		}
		return "1.x"
	}
	return mode
}

// maibotStart runs the checks and migrations of a MaiBot mode before the bot goes ready.
func maibotStart(mode string, p paths, eff *effective, log io.Writer) error {
	switch maibotMode(mode) {
	case "0.12":
		return maibot012Start(p, log)
	case "adapter":
		return maibotAdapterStart(log)
	case "1.x":
		return maibot1xStart(p, eff, log)
	default:
		return refuse(exitConfig, "unknown BOT_MAIBOT=%q (want 0.12, adapter, 1.x or core)", mode)
	}
}

// maibot012Start is 0.12's start: its .env must be a file, and its database may not be one a
// newer MaiBot wrote (schema 0 is created when there is none).
func maibot012Start(p paths, log io.Writer) error {
	envFile := envOr("BOT_ENV_FILE", "/MaiMBot/.env")
	st, err := os.Stat(envFile)
	switch {
	case err != nil:
		return refuse(exitConfig, "env file %s: %v", envFile, err)
	case st.IsDir():
		return refuse(exitConfig, "env file %s is a directory (a missing single-file bind)", envFile)
	}
	db := dbPath(p)
	v, ok, err := readUserVersion(db)
	if err != nil {
		return refuse(exitCrash, "%v", err)
	}
	if ok && v > 0 {
		return refuse(exitSchema, "database %s has schema %d, written by a newer MaiBot; 0.12 cannot use it", db, v)
	}
	if !ok {
		if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
			return err
		}
		if err := writeUserVersion(db, 0); err != nil {
			return err
		}
		fmt.Fprintf(log, "bot maibot database created schema=0 path=%s\n", db)
	}
	return nil
}

// maibotAdapterStart is the adapter's start: its config must have an [inner].version.
func maibotAdapterStart(log io.Writer) error {
	cfg := envOr("BOT_ADAPTER_CONFIG", "/adapters/config.toml")
	b, err := os.ReadFile(cfg)
	if err != nil {
		return refuse(exitConfig, "adapter config %s: %v", cfg, err)
	}
	c, err := parseTOML(b)
	if err != nil || innerVersion(c) == "" {
		return refuse(exitConfig, "adapter config %s has no [inner].version (%v)", cfg, err)
	}
	fmt.Fprintf(log, "bot maibot adapter config inner_version=%s\n", innerVersion(c))
	return nil
}

// maibot1xStart is 1.x's start: the required mounts, the database moved to its schema, the
// config migrated to the template's [inner].version, then the WebUI.
func maibot1xStart(p paths, eff *effective, log io.Writer) error {
	if req := os.Getenv("BOT_REQUIRE_MOUNTS"); req != "" {
		mounts, err := mountPoints()
		if err != nil {
			return refuse(exitConfig, "mount points: %v", err)
		}
		for _, m := range strings.Split(req, ",") {
			if m = strings.TrimSpace(m); m != "" && !mounts[filepath.Clean(m)] {
				return refuse(exitConfig, "%s is not mounted (the compose file lacks its bind)", m)
			}
		}
	}
	if err := maibot1xDatabase(p, log); err != nil {
		return err
	}
	if eff.TemplateInnerVersion != "" && eff.InnerVersion != eff.TemplateInnerVersion {
		if err := migrateConfig(p.config, eff.TemplateInnerVersion, log); err != nil {
			return err
		}
		eff.InnerVersion = eff.TemplateInnerVersion
	}
	go serveWebUI(envOr("BOT_WEBUI_ADDR", ":8001"), log)
	return nil
}

// maibot1xDatabase brings the database to 1.x's schema: it refuses a newer one, and a 0.x
// one unless the move is confirmed; migrates an older one slowly; creates a missing one.
func maibot1xDatabase(p paths, log io.Writer) error {
	want, err := sqliteSchema()
	if err != nil {
		return refuse(exitConfig, "%v", err)
	}
	db := dbPath(p)
	v, ok, err := readUserVersion(db)
	if err != nil {
		return refuse(exitCrash, "%v", err)
	}
	switch {
	case ok && v > want:
		return refuse(exitSchema, "database %s has schema %d, newer than this MaiBot knows (%d); refusing to start", db, v, want)
	case ok && v == 0:
		if os.Getenv(legacyVar) != "1" {
			return refuse(exitNotConfirmed, "database %s is from MaiBot 0.x: set %s=1 to move it to 1.x", db, legacyVar)
		}
		if err := appendLine(filepath.Join(filepath.Dir(db), "legacy.log"),
			fmt.Sprintf("renamed 0.x tables to __legacy_v1_* by %s\n", version)); err != nil {
			return err
		}
		fallthrough
	case ok && v < want:
		if err := migrateSlowly(v, want, log); err != nil {
			return err
		}
		if err := writeUserVersion(db, want); err != nil {
			return err
		}
		fmt.Fprintf(log, "bot maibot database migrated schema %d -> %d\n", v, want)
	case !ok:
		if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
			return err
		}
		if err := writeUserVersion(db, want); err != nil {
			return err
		}
		fmt.Fprintf(log, "bot maibot database created schema=%d path=%s\n", want, db)
	}
	return nil
}

// migrateConfig moves the config to config/old/<name>_<time>.toml and writes it back with the
// template's [inner].version, as MaiBot 1.x does.
func migrateConfig(path, to string, log io.Writer) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	old := filepath.Join(filepath.Dir(path), "old")
	if err := os.MkdirAll(old, 0o755); err != nil {
		return err
	}
	name := strings.TrimSuffix(filepath.Base(path), ".toml") + "_" + time.Now().UTC().Format("20060102_150405") + ".toml"
	if err := os.WriteFile(filepath.Join(old, name), b, 0o644); err != nil {
		return err
	}
	nb := innerVersionLine.ReplaceAll(b, []byte(`${1}"`+to+`"`))
	if err := writeFileAtomic(path, nb); err != nil {
		return err
	}
	fmt.Fprintf(log, "bot maibot config migrated to %s (old file in %s)\n", to, filepath.Join("old", name))
	return nil
}

func serveWebUI(addr string, log io.Writer) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "MaiBot WebUI stand-in version=%s\n", version)
	})
	if err := http.ListenAndServe(addr, mux); err != nil {
		fmt.Fprintf(log, "bot maibot webui: %v\n", err)
	}
}

// migrateSlowly plays a long migration (BOT_MIGRATE_SECONDS, BOT_MIGRATE_HANG) that logs
// its steps. SIGTERM or SIGINT ends it (exit 0, nothing written).
func migrateSlowly(from, to uint32, log io.Writer) error {
	secs, _ := strconv.Atoi(os.Getenv("BOT_MIGRATE_SECONDS"))
	hang := os.Getenv("BOT_MIGRATE_HANG") == "1"
	if secs <= 0 && !hang {
		return nil
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	end := time.Now().Add(time.Duration(secs) * time.Second)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for step := 1; ; step++ {
		if hang && step > 3 {
			s := <-sig
			return refuse(exitOK, "stopped by %s in a hung migration", s)
		}
		if !hang && !time.Now().Before(end) {
			return nil
		}
		fmt.Fprintf(log, "bot maibot database migration step %d (schema %d -> %d)\n", step, from, to)
		select {
		case s := <-sig:
			return refuse(exitOK, "stopped by %s in the migration", s)
		case <-tick.C:
		}
	}
}

// maibotBanner is the ready line the mode logs (see the package comment).
func maibotBanner(mode string) string {
	if mode != "" && maibotMode(mode) != "1.x" {
		return maibotReadyLine
	}
	const key = "startup.initialization_completed_banner"
	missing := key
	if mode == "" {
		missing = maibotReadyLine
	}
	locale := envOr("MAIBOT_LOCALE", "zh-CN")
	b, err := os.ReadFile(filepath.Join(envOr("BOT_LOCALES", "/MaiMBot/locales"), locale, "startup.json"))
	if err != nil {
		return missing
	}
	var catalog map[string]string
	if json.Unmarshal(b, &catalog) != nil || catalog[key] == "" {
		return missing
	}
	return strings.ReplaceAll(catalog[key], "{nickname}", envOr("BOT_NICKNAME", "麦麦"))
}
