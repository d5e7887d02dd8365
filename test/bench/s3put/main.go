// Command s3put is the helper of scripts/bench_s3.sh (`make bench`, part s3). It is not
// part of the product.
//
//	s3put s3://BUCKET/PREFIX PROJECT ID FILE...
//
// uploads each FILE, one after another, with internal/backup/s3's Put (endpoint and
// credentials from the AWS variables, as docker-maim reads them) to PREFIX/PROJECT/ID/NAME,
// and prints "seconds=S bytes=B hwm_kib=K": the wall time of the uploads, their bytes, and
// the process's peak resident set (VmHWM of /proc/self/status: the kernel's own peak, no
// sampling needed).
package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/docker-maim/docker-maim/internal/backup/s3"
)

func main() {
	if len(os.Args) < 5 {
		fmt.Fprintln(os.Stderr, "usage: s3put s3://BUCKET/PREFIX PROJECT ID FILE...")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], os.Args[3], os.Args[4:]); err != nil {
		fmt.Fprintln(os.Stderr, "s3put:", err)
		os.Exit(1)
	}
}

func run(url, project, id string, files []string) error {
	ctx := context.Background()
	r, err := s3.Open(ctx, url)
	if err != nil {
		return err
	}
	if w, err := strconv.Atoi(os.Getenv("S3PUT_WORKERS")); err == nil && w > 0 {
		r.Workers = w
	}
	start := time.Now()
	var total int64
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		st, err := f.Stat()
		if err == nil {
			err = r.Put(ctx, project, id, filepath.Base(name), f, st.Size(), nil)
		}
		f.Close()
		if err != nil {
			return err
		}
		total += st.Size()
	}
	secs := time.Since(start).Seconds()
	fmt.Printf("seconds=%.3f bytes=%d hwm_kib=%d\n", secs, total, hwm())
	return nil
}

// hwm is the process's peak resident set in KiB (VmHWM), 0 when unknown.
func hwm() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	i := bytes.Index(b, []byte("VmHWM:"))
	if i < 0 {
		return 0
	}
	var kib int64
	fmt.Sscanf(string(b[i+len("VmHWM:"):]), "%d", &kib)
	return kib
}
