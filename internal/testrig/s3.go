package testrig

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
	c, err := s.client()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (s *S3Server) client() (*minio.Core, error) {
	c, err := minio.New(strings.TrimPrefix(s.Endpoint, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Region: s.Region, BucketLookup: minio.BucketLookupPath})
	if err != nil {
		return nil, err
	}
	return &minio.Core{Client: c}, nil
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

// ErrNoS3Server is StartSeaweedFS's and StartMoto's error when the server's program is missing.
var ErrNoS3Server = errors.New("no S3 server program")

// SeaweedFS starts `weed server` (StartSeaweedFS) for the test and stops it when the test
// ends. No weed binary (run `make s3-rig`, or scripts/s3-rig.sh) skips the test, or fails
// it when MAIM_REQUIRE_S3=1.
func SeaweedFS(t testing.TB) *S3Server {
	t.Helper()
	return started(t)(StartSeaweedFS())
}

// Moto starts moto_server (StartMoto) for the test and stops it when the test ends;
// skipped (or failed with MAIM_REQUIRE_S3=1) when it is missing.
func Moto(t testing.TB) *S3Server {
	t.Helper()
	return started(t)(StartMoto())
}

var shared struct {
	sync.Mutex
	s    *S3Server
	stop func()
	err  error
	done bool
}

// SharedSeaweedFS is one SeaweedFS server for every test of the test binary that calls it
// (each must keep to a prefix of its own): started by the first, stopped by StopShared,
// which the package's TestMain calls after m.Run. It skips or fails as SeaweedFS does.
func SharedSeaweedFS(t testing.TB) *S3Server {
	t.Helper()
	shared.Lock()
	if !shared.done {
		shared.s, shared.stop, shared.err = StartSeaweedFS()
		shared.done = true
	}
	s, err := shared.s, shared.err
	shared.Unlock()
	return started(t)(s, func() {}, err)
}

// StopShared stops the server SharedSeaweedFS started, if any.
func StopShared() {
	shared.Lock()
	defer shared.Unlock()
	if shared.stop != nil {
		shared.stop()
		shared.stop = nil
	}
}

// started turns a start's results into the test's server: skipped when the program is
// missing (failed with MAIM_REQUIRE_S3=1), failed on any other error, stopped at the end.
func started(t testing.TB) func(*S3Server, func(), error) *S3Server {
	return func(s *S3Server, stop func(), err error) *S3Server {
		t.Helper()
		if errors.Is(err, ErrNoS3Server) {
			skipS3(t, "%v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		return s
	}
}

// StartSeaweedFS starts `weed server` (master, volume, filer and S3 gateway in one process)
// on free loopback ports, with its data in a temp dir and one identity (test credentials),
// waits until it answers and makes a bucket. stop stops it and removes its dir.
func StartSeaweedFS() (s *S3Server, stop func(), err error) {
	bin := WeedBinary()
	if bin == "" {
		return nil, nil, fmt.Errorf("%w: no SeaweedFS weed binary: run `make s3-rig` (scripts/s3-rig.sh builds and caches it)", ErrNoS3Server)
	}
	dir, err := os.MkdirTemp("", "maim-weed-")
	if err != nil {
		return nil, nil, err
	}
	s = &S3Server{Bucket: "maim-test", AccessKey: "maimtestkey", SecretKey: "maim-test-secret-" + strconv.Itoa(os.Getpid()), Region: "us-east-1"}
	cfg := fmt.Sprintf(`{"identities":[{"name":"maim","credentials":[{"accessKey":%q,"secretKey":%q}],"actions":["Admin","Read","List","Tagging","Write"]}]}`, s.AccessKey, s.SecretKey)
	if err := os.WriteFile(filepath.Join(dir, "s3.json"), []byte(cfg), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	ports, err := freePorts(8)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	s.Endpoint = "http://127.0.0.1:" + ports[0]
	args := []string{"server", "-dir=" + dir, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port=" + ports[1], "-master.port.grpc=" + ports[2], "-master.volumeSizeLimitMB=1024",
		"-volume.port=" + ports[3], "-volume.port.grpc=" + ports[4], "-volume.max=0",
		"-filer", "-filer.port=" + ports[5], "-filer.port.grpc=" + ports[6],
		"-s3", "-s3.port=" + ports[0], "-s3.port.iceberg=0", "-s3.port.lance=0", "-s3.port.grpc=" + ports[7], "-s3.config=" + filepath.Join(dir, "s3.json")}
	return startServer(bin, args, dir, s)
}

// StartMoto starts moto_server (the AWS mock, on the machine image) on a free loopback port.
func StartMoto() (s *S3Server, stop func(), err error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return nil, nil, fmt.Errorf("%w: no moto_server on PATH", ErrNoS3Server)
	}
	dir, err := os.MkdirTemp("", "maim-moto-")
	if err != nil {
		return nil, nil, err
	}
	ports, err := freePorts(1)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	s = &S3Server{Endpoint: "http://127.0.0.1:" + ports[0], Bucket: "maim-test", AccessKey: "motokey", SecretKey: "moto-secret-value", Region: "us-east-1"}
	return startServer(bin, []string{"-H", "127.0.0.1", "-p", ports[0]}, dir, s)
}

// freePorts are n distinct TCP ports free on 127.0.0.1 a moment ago.
func freePorts(n int) ([]string, error) {
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		out = append(out, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	return out, nil
}

// startServer runs the server in dir, waits up to two minutes for it to make the bucket
// (its log's end in the error when it never does); stop ends it (SIGTERM, then SIGKILL, to
// its process group) and removes dir.
func startServer(bin string, args []string, dir string, s *S3Server) (*S3Server, func(), error) {
	log, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = log, log, dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		os.RemoveAll(dir)
		return nil, nil, err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	stop := func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		log.Close()
		os.RemoveAll(dir)
	}
	if err := waitBucket(s, done); err != nil {
		b, _ := os.ReadFile(log.Name())
		stop()
		return nil, nil, fmt.Errorf("%s: %w\n%s", filepath.Base(bin), err, tail(b))
	}
	return s, stop, nil
}

// waitBucket makes the server's bucket, trying for two minutes while the server starts.
func waitBucket(s *S3Server, exited <-chan struct{}) error {
	c, err := s.client()
	if err != nil {
		return err
	}
	var last error
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
		select {
		case <-exited:
			return errors.New("exited before it answered")
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
			return nil
		}
	}
	return fmt.Errorf("did not make bucket %s within 2 minutes: %v", s.Bucket, last)
}

func tail(b []byte) []byte {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return bytes.TrimSpace(b)
}
