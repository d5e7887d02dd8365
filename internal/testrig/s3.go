package testrig

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// WeedVersion is the SeaweedFS version scripts/s3-rig.sh builds and caches.
const WeedVersion = "v0.0.0-20261109003541-7506e5f91cd6"

// S3Server is an S3-compatible server on loopback started for one test, with one bucket.
type S3Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	Bucket    string
	AccessKey string
	SecretKey string
	Region    string
}

// URL is s3://BUCKET/PREFIX on the server.
func (s *S3Server) URL(prefix string) string { return "s3://" + s.Bucket + "/" + prefix }

// Env points the AWS variables at the server for the rest of the test (t.Setenv): the
// endpoint, region and credentials, and no profile files of the user running the tests.
func (s *S3Server) Env(t testing.TB) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": s.Endpoint, "AWS_ENDPOINT_URL_S3": "", "AWS_REGION": s.Region, "AWS_DEFAULT_REGION": "",
		"AWS_ACCESS_KEY_ID": s.AccessKey, "AWS_SECRET_ACCESS_KEY": s.SecretKey, "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
		"AWS_CONFIG_FILE": filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "none"),
	} {
		t.Setenv(k, v)
	}
}

// Client is a minio-go client of the server, for tests that look at the bucket directly.
func (s *S3Server) Client(t testing.TB) *minio.Core {
	t.Helper()
	c, err := minio.New(strings.TrimPrefix(s.Endpoint, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Region: s.Region, BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	return &minio.Core{Client: c}
}

// WeedBinary finds SeaweedFS's weed: MAIM_WEED, else the one scripts/s3-rig.sh cached, else PATH.
func WeedBinary() string {
	if p := os.Getenv("MAIM_WEED"); p != "" {
		return p
	}
	cache, err := os.UserCacheDir()
	if err == nil {
		p := filepath.Join(cache, "docker-maim", "weed", WeedVersion, "weed")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, _ := exec.LookPath("weed")
	return p
}

// skipS3 skips the test when a server is missing, or fails it when MAIM_REQUIRE_S3=1.
func skipS3(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("MAIM_REQUIRE_S3") == "1" {
		t.Fatalf(format+" (MAIM_REQUIRE_S3=1: not skipping)", args...)
	}
	t.Skipf(format, args...)
}

// FreePort is a TCP port free on 127.0.0.1 a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// SeaweedFS starts `weed server` (master, volume, filer and S3 gateway in one process) on
// free loopback ports, with its data in a temp dir and one identity (test credentials),
// waits until it answers, makes a bucket, and stops it (and removes its dir) when the test
// ends. No weed binary (run `make s3-rig`, or scripts/s3-rig.sh) skips the test, or fails
// it when MAIM_REQUIRE_S3=1.
func SeaweedFS(t testing.TB) *S3Server {
	t.Helper()
	bin := WeedBinary()
	if bin == "" {
		skipS3(t, "no SeaweedFS weed binary: run `make s3-rig` (scripts/s3-rig.sh builds and caches it)")
	}
	dir, err := os.MkdirTemp("", "maim-weed-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &S3Server{Bucket: "maim-test", AccessKey: "maimtestkey", SecretKey: "maim-test-secret-" + strconv.Itoa(os.Getpid()), Region: "us-east-1"}
	cfg := fmt.Sprintf(`{"identities":[{"name":"maim","credentials":[{"accessKey":%q,"secretKey":%q}],"actions":["Admin","Read","List","Tagging","Write"]}]}`, s.AccessKey, s.SecretKey)
	if err := os.WriteFile(filepath.Join(dir, "s3.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	port := func() string { return strconv.Itoa(FreePort(t)) }
	s3port := port()
	s.Endpoint = "http://127.0.0.1:" + s3port
	args := []string{"server", "-dir=" + dir, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port=" + port(), "-master.port.grpc=" + port(), "-master.volumeSizeLimitMB=1024",
		"-volume.port=" + port(), "-volume.port.grpc=" + port(), "-volume.max=0",
		"-filer", "-filer.port=" + port(), "-filer.port.grpc=" + port(),
		"-s3", "-s3.port=" + s3port, "-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.port.grpc=" + port(), "-s3.config=" + filepath.Join(dir, "s3.json")}
	start(t, bin, args, dir, s)
	return s
}

// Moto starts moto_server (the AWS mock, on the machine image) on a free loopback port for
// tests that need what SeaweedFS does not do; skipped (or failed with MAIM_REQUIRE_S3=1)
// when it is missing.
func Moto(t testing.TB) *S3Server {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		skipS3(t, "no moto_server on PATH")
	}
	dir := t.TempDir()
	port := strconv.Itoa(FreePort(t))
	s := &S3Server{Endpoint: "http://127.0.0.1:" + port, Bucket: "maim-test", AccessKey: "motokey", SecretKey: "moto-secret-value", Region: "us-east-1"}
	start(t, bin, []string{"-H", "127.0.0.1", "-p", port}, dir, s)
	return s
}

// start runs the server, stopped (SIGTERM, then SIGKILL) when the test ends, waits up to
// two minutes for it to make the bucket, and shows its log's end when it never does.
func start(t testing.TB, bin string, args []string, dir string, s *S3Server) {
	t.Helper()
	log, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = log, log, dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		log.Close()
	})
	c := s.Client(t)
	deadline := time.Now().Add(2 * time.Minute)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-done:
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("%s exited before it answered:\n%s", filepath.Base(bin), tail(b))
		case <-time.After(300 * time.Millisecond):
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		last = c.MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{Region: s.Region})
		if last != nil {
			if ok, err := c.BucketExists(ctx, s.Bucket); err == nil && ok {
				last = nil
			}
		}
		cancel()
		if last == nil {
			return
		}
	}
	b, _ := os.ReadFile(log.Name())
	t.Fatalf("%s did not make bucket %s within 2 minutes: %v\n%s", filepath.Base(bin), s.Bucket, last, tail(b))
}

func tail(b []byte) []byte {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return bytes.TrimSpace(b)
}
