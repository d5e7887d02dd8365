package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// startChurn changes each dir of the comma-separated list that holds a file churn-on, without
// pause, until the returned func is called; that func waits for the churn to stop and removes
// the churn-on files, so the data is quiet after a restart.
func startChurn(list string, stderr io.Writer) func() {
	var dirs []string
	for _, d := range strings.Split(list, ",") {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "churn-on")); err == nil {
			dirs = append(dirs, d)
		}
	}
	if len(dirs) == 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, d := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			churn(d, done, stderr)
		}()
	}
	return func() {
		close(done)
		wg.Wait()
		for _, d := range dirs {
			_ = os.Remove(filepath.Join(d, "churn-on"))
			if sum, err := ChurnDigest(filepath.Join(d, "churn")); err == nil {
				_ = os.WriteFile(filepath.Join(d, "churn-digest"), []byte(sum+"\n"), 0o644)
			}
		}
	}
}

// ChurnDigest hashes a tree as the churn left it: every path (sorted), its type and mode,
// its mtime, and a file's content. The e2e tests compute it over restored data and compare
// it with the churn-digest the bot wrote when it stopped.
func ChurnDigest(root string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(h, "%q %v %d %d\n", rel, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

func churn(dir string, done <-chan struct{}, stderr io.Writer) {
	c := filepath.Join(dir, "churn")
	if err := os.MkdirAll(c, 0o755); err != nil {
		fmt.Fprintf(stderr, "bot warning: churn: %v\n", err)
		return
	}
	f := func(i int) string { return filepath.Join(c, fmt.Sprintf("f%02d", i%50)) }
	for i := 0; ; i++ {
		select {
		case <-done:
			return
		default:
		}
		_ = os.WriteFile(f(i), []byte(strings.Repeat(fmt.Sprintf("%d ", i), 1+i%300)), 0o644)
		_ = os.Rename(f(i+7), filepath.Join(c, fmt.Sprintf("r%02d", i%20)))
		_ = os.Truncate(f(i+3), int64(i%100))
		_ = os.Remove(f(i + 11))
		if i%10 == 0 {
			_ = os.MkdirAll(filepath.Join(c, fmt.Sprintf("d%d/sub", i%7)), 0o755)
			_ = os.RemoveAll(filepath.Join(c, fmt.Sprintf("d%d", (i+3)%7)))
		}
		// Same size, same mtime, other bytes: only the ctime tells.
		s := filepath.Join(c, fmt.Sprintf("stable%d", i%5))
		if fi, err := os.Stat(s); err == nil && fi.Size() == 8 {
			_ = os.WriteFile(s, []byte(fmt.Sprintf("%08d", i%100000000)), 0o644)
			_ = os.Chtimes(s, fi.ModTime(), fi.ModTime())
		} else {
			_ = os.WriteFile(s, []byte(fmt.Sprintf("%08d", i)), 0o644)
		}
		time.Sleep(time.Millisecond)
	}
}
