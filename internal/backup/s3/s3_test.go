package s3

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/backup/backuptest"
	"github.com/docker-maim/docker-maim/internal/testrig"
)

var prefixes atomic.Int64

// conformance runs backuptest.Conformance on srv, each subtest under a fresh prefix.
func conformance(t *testing.T, srv *testrig.S3Server) {
	srv.Env(t)
	backuptest.Conformance(t, func(t *testing.T) backup.Repository {
		r, err := Open(context.Background(), srv.URL(fmt.Sprintf("conf%d/x", prefixes.Add(1))))
		if err != nil {
			t.Fatal(err)
		}
		return r
	})
}

func TestMain(m *testing.M) {
	code := m.Run()
	testrig.StopShared()
	os.Exit(code)
}

func TestConformanceSeaweedFS(t *testing.T) { conformance(t, testrig.SharedSeaweedFS(t)) }

func TestConformanceMoto(t *testing.T) { conformance(t, testrig.Moto(t)) }

func TestParseURL(t *testing.T) {
	for _, c := range []struct{ in, bucket, prefix string }{
		{"s3://b", "b", ""}, {"s3://b/", "b", ""}, {"s3://b/p/q/", "b", "p/q"},
	} {
		b, p, err := parseURL(c.in)
		if err != nil || b != c.bucket || p != c.prefix {
			t.Errorf("parseURL(%q) = %q, %q, %v", c.in, b, p, err)
		}
	}
	for _, bad := range []string{"s3://AKIA:topsecret@b/p", "s3://topsecret@b", "http://b/p", "s3:///p", "s3://b/p?x=1", "s3://b/a//c", "s3://b/../c"} {
		_, _, err := parseURL(bad)
		if err == nil {
			t.Errorf("parseURL(%q) succeeded", bad)
		} else if strings.Contains(err.Error(), "topsecret") {
			t.Errorf("parseURL(%q) error shows the secret: %v", bad, err)
		}
	}
}

func TestPartSize(t *testing.T) {
	for _, size := range []int64{0, 1, minPart, 1 << 30, 100 << 30, 5 << 40} {
		ps := partSize(size)
		if ps < minPart || ps%(1<<20) != 0 || (size+ps-1)/ps > maxParts {
			t.Errorf("partSize(%d) = %d: want whole MiB, >= %d, at most %d parts", size, ps, minPart, maxParts)
		}
	}
}

// TestCredentialsFromProfile: with no AWS variables but AWS_PROFILE, the endpoint and region
// come from the profile in the config file and the keys from the credentials file.
func TestCredentialsFromProfile(t *testing.T) {
	srv := server(t)
	srv.Env(t)
	dir := t.TempDir()
	cfg, creds := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(cfg, fmt.Sprintf("[default]\nregion = eu-west-9\n\n[profile maim]\nregion = %s\nendpoint_url = %s\n", srv.Region, srv.Endpoint))
	write(creds, fmt.Sprintf("[default]\naws_access_key_id = nobody\naws_secret_access_key = nothing\n\n[maim]\naws_access_key_id = %s\naws_secret_access_key = %s\n", srv.AccessKey, srv.SecretKey))
	for k, v := range map[string]string{"AWS_ENDPOINT_URL": "", "AWS_REGION": "", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
		"AWS_CONFIG_FILE": cfg, "AWS_SHARED_CREDENTIALS_FILE": creds, "AWS_PROFILE": "maim"} {
		t.Setenv(k, v)
	}
	r, err := Open(context.Background(), srv.URL("profile"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Check(context.Background()); err != nil {
		t.Fatalf("Check with the profile's credentials: %v", err)
	}
	if err := r.Put(context.Background(), "demo", "b1", "f", strings.NewReader("from a profile"), 14, nil); err != nil {
		t.Fatalf("Put with the profile's credentials: %v", err)
	}
	// The same from the environment alone (it outranks the profile).
	t.Setenv("AWS_ENDPOINT_URL", srv.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_PROFILE", "default")
	r, err = Open(context.Background(), srv.URL("profile"))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.Stat("demo", "b1", "f"); err != nil || n != 14 {
		t.Fatalf("Stat with credentials from the environment = %d, %v", n, err)
	}
}

// TestSecretsNeverShown: with a wrong secret and a session token, every failing operation's
// error (and Location) is free of both.
func TestSecretsNeverShown(t *testing.T) {
	srv := server(t)
	srv.Env(t)
	const secret, token = "Wr0ngSecretKeyValue/abcdefXYZ0123456789", "SessionTokenValue+0123456789abcdef"
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_SESSION_TOKEN", token)
	r, err := Open(context.Background(), srv.URL("secrets"))
	if err != nil {
		t.Fatal(err)
	}
	r.Workers = 1
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	_, err = r.List("demo")
	errs = append(errs, err, r.Mkdir("demo", "b1"), r.Check(ctx))
	_, err = r.Stat("demo", "b1", "f")
	errs = append(errs, err)
	_, err = r.Open("demo", "b1", "f")
	errs = append(errs, err)
	_, err = r.Lock("demo", "me")
	errs = append(errs, err, r.Put(ctx, "demo", "b1", "f", bytes.NewReader(make([]byte, 2*minPart)), 2*minPart, nil), r.Delete("demo", "b1"))
	_, err = r.Get(ctx, "demo", "b1", "f", &memFile{}, nil)
	errs = append(errs, err, errors.New(r.Location("demo", "b1")))
	for i, err := range errs {
		if err == nil {
			if os.Getenv("MAIM_S3_TEST_SERVER") != "moto" { // moto takes any credentials
				t.Errorf("operation %d succeeded with a wrong secret", i)
			}
			continue
		}
		if s := err.Error(); strings.Contains(s, secret) || strings.Contains(s, token) {
			t.Errorf("operation %d's error shows a secret: %s", i, s)
		}
	}
	if _, err := Open(context.Background(), "s3://AKIAEXAMPLE:"+secret+"@bucket/p"); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("Open of a URL with credentials = %v; want refused, without the secret", err)
	}
}

// TestLeaseTakeoverAndRefresh: an expired lease (its holder died) is taken over; a live one
// is refused naming its holder; a held lease is refreshed (its expiry moves on).
func TestLeaseTakeoverAndRefresh(t *testing.T) {
	srv := server(t)
	srv.Env(t)
	r, err := Open(context.Background(), srv.URL("lease"))
	if err != nil {
		t.Fatal(err)
	}
	r.LeaseTTL = 3 * time.Second
	key := r.key("demo", lockName)
	ctx := context.Background()
	dead, _ := json.Marshal(lease{Holder: "pid 9, a crashed host", Token: "x", Expires: time.Now().Add(-time.Minute)})
	if _, err := r.core.PutObject(ctx, r.bucket, key, bytes.NewReader(dead), int64(len(dead)), "", "", minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	unlock, err := r.Lock("demo", "pid 10")
	if err != nil {
		t.Fatalf("Lock over an expired lease: %v", err)
	}
	first, _, err := r.readLease(ctx, key)
	if err != nil || first.Holder != "pid 10" {
		t.Fatalf("lease after takeover = %+v, %v", first, err)
	}
	if _, err := r.Lock("demo", "pid 11"); !errors.Is(err, backup.ErrLocked) || !strings.Contains(err.Error(), "pid 10") {
		t.Errorf("Lock over a live lease = %v; want ErrLocked naming pid 10", err)
	}
	for i := 0; ; i++ { // the refresher rewrites it every second: wait for a later expiry
		cur, _, err := r.readLease(ctx, key)
		if err == nil && cur.Expires.After(first.Expires) {
			break
		}
		if i > 100 {
			t.Fatalf("the lease was never refreshed: %+v, %v", cur, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	unlock()
	if _, _, err := r.readLease(ctx, key); !isNotFound(err) {
		t.Errorf("lease after unlock: %v, want gone", err)
	}
}

// server is the server of the tests that need one, each under a prefix of its own: one
// SeaweedFS for the package, or a moto_server each when MAIM_S3_TEST_SERVER=moto (the same
// tests against the AWS mock).
func server(t *testing.T) *testrig.S3Server {
	if os.Getenv("MAIM_S3_TEST_SERVER") == "moto" {
		return testrig.Moto(t)
	}
	return testrig.SharedSeaweedFS(t)
}

// TestCheckComplete: an assembled object whose ETag or composite SHA-256 is not its parts' is refused.
func TestCheckComplete(t *testing.T) {
	a, b := sums{}, sums{}
	b.md5[0], b.sha[0] = 1, 1
	parts := []sums{a, b}
	good := minio.UploadInfo{ETag: compositeETag(parts), ChecksumSHA256: compositeSHA256(parts)}
	if err := checkComplete(good, parts); err != nil {
		t.Errorf("matching object refused: %v", err)
	}
	if err := checkComplete(minio.UploadInfo{ETag: compositeETag([]sums{b, a})}, parts); err == nil {
		t.Errorf("an ETag of other parts passed")
	}
	if err := checkComplete(minio.UploadInfo{ETag: good.ETag, ChecksumSHA256: compositeSHA256([]sums{a, a})}, parts); err == nil {
		t.Errorf("a SHA-256 of other parts passed")
	}
}

// TestWrapRedacts: a server's message that echoes a secret loses it; the error still
// matches what it wraps (fs.ErrNotExist for a missing key).
func TestWrapRedacts(t *testing.T) {
	r := &Repo{bucket: "b", secrets: []string{"s3cr3tKEYvalue"}}
	err := r.wrap("stat", "s3://b/x", minio.ErrorResponse{Code: "NoSuchKey", StatusCode: 404, Message: "no key; you sent s3cr3tKEYvalue"})
	if strings.Contains(err.Error(), "s3cr3tKEYvalue") || !strings.Contains(err.Error(), "***") {
		t.Errorf("wrapped error = %q; want the secret replaced", err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("wrapped NoSuchKey is not fs.ErrNotExist: %v", err)
	}
}
