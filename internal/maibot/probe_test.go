//go:build linux || darwin

package maibot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// probe runs f with a safety net: a probe that blocks fails the test instead of hanging it.
func probe[T any](t *testing.T, f func() (T, error)) (T, error) {
	t.Helper()
	type res struct {
		v   T
		err error
	}
	done := make(chan res, 1)
	go func() { v, err := f(); done <- res{v, err} }()
	select {
	case r := <-done:
		return r.v, r.err
	case <-time.After(time.Minute):
		t.Fatal("the probe blocked")
		panic("unreachable")
	}
}

func sqliteHeader(version int32) []byte {
	h := make([]byte, HeaderSize+4096)
	copy(h, SQLiteMagic)
	binary.BigEndian.PutUint32(h[userVersionOffset:], uint32(version))
	return h
}

// A FIFO, a symlink or an oversized file in place of bot_config.toml or MaiBot.db (the bot's
// container can put them there) is "unknown" with an error, at once: never a blocked read,
// never the file a link leads to.
func TestProbeRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(outside, append([]byte("[inner]\nversion = \"9.9.9\"\n"), sqliteHeader(99)...), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.toml")
	if err := os.WriteFile(big, append([]byte("[inner]\nversion = \"1.0.0\"\n#"), bytes.Repeat([]byte("x"), MaxConfigSize)...), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, link, dir} {
		v, err := probe(t, func() (string, error) { return ConfigVersionFile(p) })
		if !errors.Is(err, ErrNotRegular) || v != "" {
			t.Errorf("config %s: %q, %v; want ErrNotRegular", filepath.Base(p), v, err)
		}
		n, err := probe(t, func() (int32, error) { return SchemaVersionFile(p) })
		if !errors.Is(err, ErrNotRegular) || n != 0 {
			t.Errorf("database %s: %d, %v; want ErrNotRegular", filepath.Base(p), n, err)
		}
	}
	if v, err := probe(t, func() (string, error) { return ConfigVersionFile(big) }); !errors.Is(err, ErrTooLarge) || v != "" {
		t.Errorf("oversized config: %q, %v; want ErrTooLarge", v, err)
	}
}

func TestProbeReadsRegular(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, BotConfig)
	if err := os.WriteFile(conf, []byte("[inner]\nversion = \"1.2.3\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, DatabaseFile)
	if err := os.WriteFile(db, sqliteHeader(40), 0o644); err != nil {
		t.Fatal(err)
	}
	if v, err := ConfigVersionFile(conf); err != nil || v != "1.2.3" {
		t.Errorf("config: %q, %v", v, err)
	}
	if n, err := SchemaVersionFile(db); err != nil || n != 40 {
		t.Errorf("database: %d, %v", n, err)
	}
}
