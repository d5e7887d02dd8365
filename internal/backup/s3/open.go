package s3

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"gopkg.in/ini.v1"
)

// Open opens the repository named by rawURL, s3://BUCKET or s3://BUCKET/PREFIX, reading its
// endpoint, region and credentials the way the AWS tools do:
//
//   - endpoint: AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else the profile's endpoint_url,
//     else AWS S3 itself; a custom endpoint is addressed path-style (http://host:port/BUCKET);
//   - region: AWS_REGION, else AWS_DEFAULT_REGION, else the profile's region, else us-east-1
//     for a custom endpoint (AWS itself is asked for the bucket's region);
//   - credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, else the
//     profile (AWS_PROFILE, else "default") in ~/.aws/credentials and ~/.aws/config
//     (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE), read by minio-go's providers; none at
//     all means anonymous requests.
//
// Credentials in the URL (s3://KEY:SECRET@BUCKET) are refused: a command line is seen by
// every user of the host. No secret appears in Location or in any error of the Repo. Open
// makes no request: an unreachable endpoint fails the first operation (Check asks early).
func Open(ctx context.Context, rawURL string) (*Repo, error) {
	bucket, prefix, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	profile := os.Getenv("AWS_PROFILE")
	prof := readProfile(profile)
	endpoint := firstSet(os.Getenv("AWS_ENDPOINT_URL_S3"), os.Getenv("AWS_ENDPOINT_URL"), prof.endpoint)
	region := firstSet(os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), prof.region)
	host, secure, custom := "s3.amazonaws.com", true, endpoint != ""
	if custom {
		if host, secure, err = parseEndpoint(endpoint); err != nil {
			return nil, err
		}
		if region == "" {
			region = "us-east-1"
		}
	}
	creds := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.FileAWSCredentials{Profile: profile},
	})
	lookup := minio.BucketLookupAuto
	if custom {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(host, &minio.Options{Creds: creds, Secure: secure, Region: region, BucketLookup: lookup, Transport: transport()})
	if err != nil {
		return nil, fmt.Errorf("s3 endpoint %s: %w", host, err)
	}
	r := &Repo{core: &minio.Core{Client: client}, bucket: bucket, prefix: prefix, endpoint: host,
		Workers: defaultWorkers, LeaseTTL: defaultLeaseTTL}
	if v, err := creds.GetWithContext(&credentials.CredContext{}); err == nil {
		r.secrets = secretsOf(v)
	}
	_ = ctx
	return r, nil
}

// parseURL splits s3://BUCKET/PREFIX, refusing credentials, queries and empty buckets.
func parseURL(rawURL string) (bucket, prefix string, err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url's errors quote the whole URL: it may hold a secret.
		return "", "", errors.New("remote: not a URL of the form s3://BUCKET/PREFIX")
	}
	if u.User != nil {
		return "", "", errors.New("remote: credentials in the URL are refused (a command line is visible to every user of the host): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE")
	}
	if u.Scheme != "s3" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("remote %q: want s3://BUCKET or s3://BUCKET/PREFIX", rawURL)
	}
	prefix = strings.Trim(u.Path, "/")
	for _, e := range strings.Split(prefix, "/") {
		if prefix != "" && (e == "" || e == "." || e == "..") {
			return "", "", fmt.Errorf("remote %q: bad prefix", rawURL)
		}
	}
	return u.Host, prefix, nil
}

// parseEndpoint reads an endpoint URL (http://host:port, https://host): its host and scheme.
func parseEndpoint(endpoint string) (host string, secure bool, err error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", false, errors.New("remote: AWS_ENDPOINT_URL (or the profile's endpoint_url) is not an http(s) URL")
	}
	if u.User != nil {
		return "", false, errors.New("remote: credentials in the endpoint URL are refused: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE")
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		return "", false, fmt.Errorf("remote: endpoint %s: a path in the endpoint is not supported", u.Host)
	}
	return u.Host, u.Scheme == "https", nil
}

// profileConf is what a profile of ~/.aws/config says beside its credentials.
type profileConf struct{ endpoint, region string }

// readProfile reads endpoint_url and region of a profile (default: "default") from the AWS
// config file (AWS_CONFIG_FILE, else ~/.aws/config), then the shared credentials file, as the
// AWS CLI does; a missing or unreadable file says nothing. Credentials are minio-go's to read.
func readProfile(profile string) profileConf {
	if profile == "" {
		profile = "default"
	}
	home, _ := os.UserHomeDir()
	files := []string{firstSet(os.Getenv("AWS_CONFIG_FILE"), filepath.Join(home, ".aws", "config")),
		firstSet(os.Getenv("AWS_SHARED_CREDENTIALS_FILE"), filepath.Join(home, ".aws", "credentials"))}
	var pc profileConf
	for _, name := range files {
		f, err := ini.Load(name)
		if err != nil {
			continue
		}
		for _, sec := range []string{"profile " + profile, profile} {
			s, err := f.GetSection(sec)
			if err != nil {
				continue
			}
			pc.endpoint = firstSet(pc.endpoint, s.Key("endpoint_url").String())
			pc.region = firstSet(pc.region, s.Key("region").String())
		}
	}
	return pc
}

func firstSet(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// secretsOf lists the values no message may show.
func secretsOf(v credentials.Value) []string {
	var out []string
	for _, s := range []string{v.SecretAccessKey, v.SessionToken} {
		if len(s) >= 4 {
			out = append(out, s)
		}
	}
	return out
}

// Check asks the endpoint whether the bucket exists and the credentials may read it: the
// early failure of an unreachable or misconfigured remote.
func (r *Repo) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ok, err := r.core.BucketExists(ctx, r.bucket)
	if err != nil {
		return r.wrap("reach", r.Location()+" at "+r.endpoint, err)
	}
	if !ok {
		return fmt.Errorf("remote %s: no such bucket at %s", r.Location(), r.endpoint)
	}
	return nil
}
