package dbdump

import (
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/dbmajor"
	"github.com/moby/moby/api/types/network"
	"go.yaml.in/yaml/v3"
)

// The mongo image is known by its environment (the official image sets MONGO_MAJOR,
// MONGO_VERSION and MONGO_PACKAGE) or by its name; its data lives in /data/db. An image
// whose name only starts with mongo (mongo-express) is no database.
func TestDetectMongo(t *testing.T) {
	cases := []struct {
		ref     string
		env     []string
		version string
	}{
		{"mongo:8.0", []string{"MONGO_PACKAGE=mongodb-org", "MONGO_REPO=repo.mongodb.org", "MONGO_MAJOR=8.0", "MONGO_VERSION=8.0.26"}, "8.0.26"},
		{"registry.example/db:latest", []string{"MONGO_MAJOR=7.0"}, "7.0"},
		{"registry.example/db:latest", []string{"MONGO_PACKAGE=mongodb-org"}, ""},
		{"docker.io/library/mongo:7.0.14@sha256:0123", nil, "7.0.14"},
		{"mongo", nil, ""},
	}
	for _, c := range cases {
		k := dbmajor.Detect(dbmajor.Image{Ref: c.ref, Env: c.env})
		if k.Engine != maim.DBMongoDB || k.Version != c.version {
			t.Errorf("%s %q: %+v, want mongodb %q", c.ref, c.env, k, c.version)
		}
		if d := dbmajor.DataDir(k, dbmajor.Env(c.env), nil); d != "/data/db" {
			t.Errorf("%s: data dir %q", c.ref, d)
		}
	}
	for _, ref := range []string{"mongo-express:1.0", "bitnami/mongodb-exporter:0.40", "nginx:1.27"} {
		if k := dbmajor.Detect(dbmajor.Image{Ref: ref, Env: []string{"ME_CONFIG_MONGODB_URL=mongodb://db"}}); k.Engine != "" {
			t.Errorf("%s: detected as %+v", ref, k)
		}
	}
}

// Without a root user the tools log in as nobody: no shell, no secret, no --username.
func TestPlanMongoNoAuth(t *testing.T) {
	c, err := Plan("", "mongo:7", []string{"MONGO_VERSION=7.0.14"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"mongodump", "--archive", "--host=127.0.0.1"}; !reflect.DeepEqual(c.Exec(), want) || len(c.ExecEnv()) != 0 || c.Secret != "" {
		t.Errorf("exec %q env %q secret %q, want %q and nothing else", c.Exec(), c.ExecEnv(), c.Secret, want)
	}
	l, err := LoadPlan(maim.DBMongoDB, "mongo:7", []string{"MONGO_VERSION=7.0.14"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"mongorestore", "--archive", "--host=127.0.0.1", "--drop", "--stopOnError"}; !reflect.DeepEqual(l.Exec(), want) {
		t.Errorf("load %q, want %q", l.Exec(), want)
	}
}

// With MONGO_INITDB_ROOT_USERNAME and _PASSWORD: the user on the command line, the password
// only in the exec's environment, read by the shell into a --config file on descriptor 3.
func TestPlanMongoRootUser(t *testing.T) {
	env := []string{"MONGO_MAJOR=7.0", "MONGO_INITDB_ROOT_USERNAME=admin", "MONGO_INITDB_ROOT_PASSWORD=s3cret"}
	c, err := Plan("mongo", "mongo:7", env)
	if err != nil {
		t.Fatal(err)
	}
	wantArgv := []string{"mongodump", "--archive", "--host=127.0.0.1", "--username=admin", "--authenticationDatabase=admin"}
	if !reflect.DeepEqual(c.Argv, wantArgv) || c.Engine != maim.DBMongoDB {
		t.Errorf("argv %q engine %q", c.Argv, c.Engine)
	}
	ex := c.Exec()
	if ex[0] != "/bin/sh" || ex[1] != "-c" || !reflect.DeepEqual(ex[4:], wantArgv) || !strings.Contains(ex[2], "--config=/dev/fd/3") {
		t.Errorf("exec %q: want a shell giving the tool --config=/dev/fd/3", ex)
	}
	if !reflect.DeepEqual(c.ExecEnv(), []string{"DOCKER_MAIM_MONGO_PASSWORD=s3cret"}) {
		t.Errorf("env %q", c.ExecEnv())
	}
	for _, s := range append(ex, c.String()) {
		if strings.Contains(s, "s3cret") {
			t.Errorf("the password is in %q", s)
		}
	}
	if !strings.Contains(c.String(), "MONGO_INITDB_ROOT_PASSWORD") {
		t.Errorf("String %q: want where the password comes from", c.String())
	}
	l, err := LoadPlan(maim.DBMongoDB, "mongo:7", env)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"mongorestore", "--archive", "--host=127.0.0.1", "--username=admin", "--authenticationDatabase=admin", "--drop", "--stopOnError"}; !reflect.DeepEqual(l.Argv, want) || l.Then != c.Then || !reflect.DeepEqual(l.ExecEnv(), c.ExecEnv()) {
		t.Errorf("load %q then %q env %q", l.Argv, l.Then, l.ExecEnv())
	}
	r := ReadyCommand(l)
	if want := []string{"mongodump", "--host=127.0.0.1", "--username=admin", "--authenticationDatabase=admin", "--db=admin", "--collection=docker-maim-ready", "--archive=/dev/null"}; !reflect.DeepEqual(r.Argv, want) || r.Then != c.Then {
		t.Errorf("ready %q, want %q", r.Argv, want)
	}
}

// A user without a password (or the reverse) is a container the official entrypoint does
// not start: refused. A dump asked of the wrong kind of image is refused both ways, and a
// dump of another engine does not load into a mongo image.
func TestPlanMongoRefusals(t *testing.T) {
	for _, env := range [][]string{
		{"MONGO_VERSION=7.0.14", "MONGO_INITDB_ROOT_USERNAME=admin"},
		{"MONGO_VERSION=7.0.14", "MONGO_INITDB_ROOT_PASSWORD_FILE=/run/secrets/pw"},
	} {
		if _, err := Plan("", "mongo:7", env); err == nil || !strings.Contains(err.Error(), "only one of") {
			t.Errorf("%q: %v, want refused", env, err)
		}
	}
	if _, err := Plan("postgres", "mongo:7", nil); err == nil || !strings.Contains(err.Error(), "runs mongodb") {
		t.Errorf("postgres label on mongo: %v", err)
	}
	if _, err := Plan("mongo", "postgres:16", []string{"PG_MAJOR=16"}); err == nil {
		t.Error("mongo kind on postgres: accepted")
	}
	if _, err := Plan("mongo", "mariadb:11", []string{"MARIADB_ROOT_PASSWORD=x"}); err == nil {
		t.Error("mongo kind on mariadb: accepted")
	}
	if _, err := LoadPlan(maim.DBPostgreSQL, "mongo:7", nil); err == nil {
		t.Error("a PostgreSQL dump loads into mongo")
	}
	if _, err := LoadPlan(maim.DBMongoDB, "mariadb:11", []string{"MARIADB_ROOT_PASSWORD=x"}); err == nil {
		t.Error("a MongoDB dump loads into mariadb")
	}
}

// The shell text Plan builds runs in a real /bin/sh: a stand-in tool on PATH prints its
// arguments and the file /dev/fd/3 it is given, which must parse (as MongoDB's tools parse
// it: YAML, unknown keys refused) to exactly the password, whatever characters it holds;
// the _FILE variants are read from files (their trailing newline stripped, as the image's
// file_env does); neither the password nor its variable reaches the tool's arguments or
// environment.
func TestMongoPasswordConfigWithARealShell(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	dir := t.TempDir()
	tool := "#!/bin/sh\nfor a in \"$@\"; do printf 'ARG %s\\n' \"$a\"; case $a in --config=*) cat \"${a#--config=}\";; esac; done\n" +
		"env | grep -c DOCKER_MAIM || true\n"
	if err := os.WriteFile(filepath.Join(dir, "mongodump"), []byte(tool), 0o755); err != nil {
		t.Fatal(err)
	}
	passwords := []string{"s3cret", `p: "w' # $(reboot) ${HOME} \n \\ ` + "`id`", "  leading and trailing  ", "-x: [1, 2] &a *a !!int 'q'", "ü€ DOCKER_MAIM_EOF"}
	for _, pw := range passwords {
		for _, fromFile := range []bool{false, true} {
			env := []string{"MONGO_VERSION=7.0.14"}
			if fromFile {
				u, p := filepath.Join(dir, "user"), filepath.Join(dir, "pw")
				writeFile(t, u, "root \"x\"\n")
				writeFile(t, p, pw+"\n")
				env = append(env, "MONGO_INITDB_ROOT_USERNAME_FILE="+u, "MONGO_INITDB_ROOT_PASSWORD_FILE="+p)
			} else {
				env = append(env, "MONGO_INITDB_ROOT_USERNAME=root \"x\"", "MONGO_INITDB_ROOT_PASSWORD="+pw)
			}
			c, err := Plan("", "mongo:7", env)
			if err != nil {
				t.Fatal(err)
			}
			args, config, leaked := runTool(t, dir, c)
			if !slices.Contains(args, `--username=root "x"`) || !slices.Contains(args, "--config=/dev/fd/3") || !slices.Contains(args, "--archive") {
				t.Errorf("file %v: args %q", fromFile, args)
			}
			var got struct {
				Password string `yaml:"password"`
			}
			dec := yaml.NewDecoder(bytes.NewReader(config))
			dec.KnownFields(true)
			if err := dec.Decode(&got); err != nil || got.Password != pw {
				t.Errorf("file %v: config %q parses to %q (%v), want %q", fromFile, config, got.Password, err, pw)
			}
			if leaked != "0" {
				t.Errorf("file %v: %s DOCKER_MAIM variables reach the tool", fromFile, leaked)
			}
			for _, a := range args {
				if strings.Contains(a, strings.TrimSpace(pw)) {
					t.Errorf("file %v: the password is in the argument %q", fromFile, a)
				}
			}
		}
	}
}

// runTool runs c's exec with dir first on PATH and splits what the stand-in tool printed.
func runTool(t *testing.T, dir string, c Command) (args []string, config []byte, leaked string) {
	t.Helper()
	ex := c.Exec()
	cmd := exec.Command(ex[0], ex[1:]...)
	cmd.Env = append([]string{"PATH=" + dir + ":" + os.Getenv("PATH")}, c.ExecEnv()...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%q: %v: %s", ex, err, out)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	leaked = lines[len(lines)-1]
	var cfg []string
	for _, l := range lines[:len(lines)-1] {
		if a, ok := strings.CutPrefix(l, "ARG "); ok {
			args = append(args, a)
		} else {
			cfg = append(cfg, l)
		}
	}
	return args, []byte(strings.Join(cfg, "\n") + "\n"), leaked
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// The ready check goes to the container's own IPv4 address (the entrypoint's temporary
// server listens on 127.0.0.1 only), the first network by name; none: 127.0.0.1.
func TestMongoReadyAddress(t *testing.T) {
	nets := map[string]*network.EndpointSettings{
		"zeta_default": {IPAddress: netip.MustParseAddr("172.20.0.3")},
		"app_default":  {IPAddress: netip.MustParseAddr("172.19.0.2")},
		"v6only":       {},
	}
	if got := firstAddress(nets); got != "172.19.0.2" {
		t.Errorf("address %q, want the first network's", got)
	}
	if got := firstAddress(map[string]*network.EndpointSettings{"host": {}, "x": nil}); got != "" {
		t.Errorf("no address: %q", got)
	}
	c, _ := Plan("", "mongo:7", nil)
	if got := mongoReadyArgv(c.Argv, "172.19.0.2"); got[1] != "--host=172.19.0.2" || slices.Contains(got, "--host=127.0.0.1") || slices.Contains(got, "--archive") {
		t.Errorf("ready argv %q", got)
	}
}
