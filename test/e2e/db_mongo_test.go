package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/testrig"
	"github.com/docker-maim/docker-maim/internal/testrig/treediff"
	"go.yaml.in/yaml/v3"
)

// MongoDB dumps against the real engine, up to the tool. No MongoDB server or MongoDB
// Database Tools can be installed on the rig (mongo-tools is refused by the Go module proxy
// and is in no Debian suite; the npm packages download from mongodb.org at install time),
// so the image here is the mongo image's environment and layout, FROM scratch with
// busybox as /bin/sh, and a `mongodump` that is NOT MongoDB's: a shell script that writes
// what it was given (its arguments, and the --config file it reads) to its standard
// output. What it checks is docker-maim's part, in a real container through the engine's
// exec API: the image is known by MONGO_VERSION (its name says nothing), the command and
// its login, the password reaching the tool only as the YAML file on descriptor 3 (never
// argv, the manifest or docker-maim's output), for MONGO_INITDB_ROOT_PASSWORD and for a
// compose secret through _FILE, the archive's name, hash and verify. The exact commands
// were also run by hand against FerretDB 1.24.2 with mongodump/mongorestore built from
// source (see the branch report).

// mongoStandIn is the stand-in tool (busybox sh), installed as mongodump and mongorestore.
// mongodump writes one ARG line per argument, then the content of the --config file; as
// docker-maim's ready check (--collection=docker-maim-ready) it appends its arguments to
// /data/db/ready.log instead. mongorestore writes the same to /data/db/restore.args and its
// standard input to /data/db/restored, and exits 3 when that holds FAIL-LOAD.
const mongoStandIn = `#!/bin/sh
args() {
  for a in "$@"; do
    printf 'ARG %s\n' "$a"
    case $a in --config=*) cat "${a#--config=}" ;; esac
  done
}
case $0 in
*mongorestore)
  args "$@" > /data/db/restore.args
  cat > /data/db/restored
  if grep -q FAIL-LOAD /data/db/restored; then echo "stand-in: FAIL-LOAD in the archive" >&2; exit 3; fi ;;
*)
  case " $* " in
  *" --collection=docker-maim-ready "*) echo "$*" >> /data/db/ready.log ;;
  *) args "$@" ;;
  esac ;;
esac
`

// buildMongoStandIn builds the image of these tests as REF (tracked for removal): busybox
// as /bin/sh, the stand-in as mongodump and mongorestore, the mongo image's environment.
func buildMongoStandIn(t *testing.T, p *project) string {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Skip("no /bin/busybox (apt-get install busybox-static) to build the image from")
	}
	ref := testrig.Registry() + "/" + p.Name + "/db:7"
	p.TrackImage(ref)
	bctx := t.TempDir()
	must(t, os.WriteFile(filepath.Join(bctx, "busybox"), bb, 0o755))
	must(t, os.WriteFile(filepath.Join(bctx, "mongodump"), []byte(mongoStandIn), 0o755))
	df := "FROM scratch\nCOPY busybox /bin/sh\nCOPY mongodump /usr/bin/mongodump\nCOPY mongodump /usr/bin/mongorestore\n" +
		"ENV PATH=/usr/bin:/bin MONGO_PACKAGE=mongodb-org MONGO_MAJOR=7.0 MONGO_VERSION=7.0.14\n" +
		`CMD ["/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]` + "\n"
	must(t, os.WriteFile(filepath.Join(bctx, "Dockerfile"), []byte(df), 0o644))
	mustOK(t, docker(t, bctx, []string{"DOCKER_BUILDKIT=0"}, "build", "-q", "-t", ref, "."))
	return ref
}

// mongoCompose: db has the password in its environment, db2 as a compose secret (_FILE).
const mongoCompose = `services:
  db:
    image: %[1]s
    environment:
      MONGO_INITDB_ROOT_USERNAME: root
      MONGO_INITDB_ROOT_PASSWORD: 'p: "w'' #x $$(id) s3cret'
    volumes: [dbdata:/data/db]
  db2:
    image: %[1]s
    environment:
      MONGO_INITDB_ROOT_USERNAME: admin
      MONGO_INITDB_ROOT_PASSWORD_FILE: /run/secrets/mongo_pw
    secrets: [mongo_pw]
    volumes: [db2data:/data/db]
secrets:
  mongo_pw: {file: ./mongo_pw.txt}
volumes: {dbdata: {}, db2data: {}}
`

func TestDBMongoDumpCredentials(t *testing.T) {
	requireEngine(t)
	p := newProject(t, "maimmongo", "")
	ref := buildMongoStandIn(t, p)
	p.WriteCompose(strings.ReplaceAll(mongoCompose, "%[1]s", ref))
	p.WriteFile("mongo_pw.txt", "  file pw: 'q' \\n\n")
	compose(t, p, "up", "-d")

	r := mustOK(t, p.maim("backup", "--dump", "db", "--dump", "db2", "--format", "json"))
	var res struct {
		ID    string                                      `json:"id"`
		Dumps []struct{ Service, Engine, Archive string } `json:"dumps"`
	}
	must(t, json.Unmarshal([]byte(r.Stdout), &res))
	if len(res.Dumps) != 2 || res.Dumps[0].Engine != "mongodb" || res.Dumps[0].Archive != "dump-db.archive.zst" || res.Dumps[1].Archive != "dump-db2.archive.zst" {
		t.Fatalf("backup's dumps: %+v, want db's and db2's mongodb dump-SERVICE.archive.zst", res.Dumps)
	}
	dumps, raw := manifestDumps(t, p, res.ID)
	want := map[string]struct{ user, pw, secret string }{
		"db":  {"root", `p: "w' #x $(id) s3cret`, "MONGO_INITDB_ROOT_PASSWORD"},
		"db2": {"admin", `  file pw: 'q' \n`, "MONGO_INITDB_ROOT_PASSWORD_FILE"},
	}
	for _, d := range dumps {
		w := want[d.Service]
		if !strings.HasPrefix(d.Command, "mongodump --archive --host=127.0.0.1 --username="+w.user+" --authenticationDatabase=admin") || !strings.Contains(d.Command, w.secret) {
			t.Errorf("%s: manifest command %q", d.Service, d.Command)
		}
		if strings.Contains(r.Stdout+r.Stderr+raw, "s3cret") || strings.Contains(raw, "file pw") {
			t.Fatalf("a password is in docker-maim's output or the manifest:\n%s\n%s", r, raw)
		}
		args, config := splitStandIn(readDump(t, p, res.ID, d))
		wantArgs := []string{"--archive", "--host=127.0.0.1", "--username=" + w.user, "--authenticationDatabase=admin", "--config=/dev/fd/3"}
		if strings.Join(args, " ") != strings.Join(wantArgs, " ") {
			t.Errorf("%s: the tool got %q, want %q", d.Service, args, wantArgs)
		}
		var got struct {
			Password string `yaml:"password"`
		}
		if err := yaml.Unmarshal([]byte(config), &got); err != nil || got.Password != w.pw {
			t.Errorf("%s: --config holds %q: password %q (%v), want %q", d.Service, config, got.Password, err, w.pw)
		}
	}
	if len(dumps) != 2 {
		t.Fatalf("manifest dumps: %+v", dumps)
	}
	mustOK(t, p.maim("verify", res.ID))
}

// splitStandIn splits the stand-in's output into its arguments and the config it read.
func splitStandIn(out string) (args []string, config string) {
	var cfg []string
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if a, ok := strings.CutPrefix(l, "ARG "); ok {
			args = append(args, a)
		} else {
			cfg = append(cfg, l)
		}
	}
	return args, strings.Join(cfg, "\n") + "\n"
}

// TestDBMongoFromDumpStandIn: restore --from-dump of a mongo service, docker-maim's part
// with the stand-in tools (no MongoDB server can run here): the data volume is emptied,
// the service started, the ready check runs against the container's own address (not
// 127.0.0.1, where the official entrypoint's temporary init server listens), then
// mongorestore gets the dump's bytes on its standard input with the login and the
// password on descriptor 3; a load that fails puts the volume back exactly.
func TestDBMongoFromDumpStandIn(t *testing.T) {
	requireEngine(t)
	p := newProject(t, "maimmongofd", "")
	ref := buildMongoStandIn(t, p)
	p.WriteCompose(strings.ReplaceAll(mongoCompose[:strings.Index(mongoCompose, "  db2:")], "%[1]s", ref) + "volumes: {dbdata: {}}\n")
	compose(t, p, "up", "-d", "db")
	db := p.containers()["db"].ID
	execIn(t, db, "", "/bin/sh", "-c", "echo old > /data/db/old")
	id := p.backup("--dump", "db")
	dumps, _ := manifestDumps(t, p, id)
	if len(dumps) != 1 || dumps[0].Archive != "dump-db.archive.zst" {
		t.Fatalf("manifest dumps: %+v", dumps)
	}
	archive := readDump(t, p, id, dumps[0])

	r := mustOK(t, p.maim("restore", id, "--from-dump", "db", "--stable-period", "1s", "--timeout", "1m"))
	if strings.Contains(r.Stdout+r.Stderr, "s3cret") {
		t.Errorf("the password is in docker-maim's output: %s", r)
	}
	if !strings.Contains(r.Stdout+r.Stderr, "mongorestore --archive --host=127.0.0.1 --username=root --authenticationDatabase=admin --drop --stopOnError") {
		t.Errorf("the restore does not say which mongorestore runs: %s", r)
	}
	db = p.containers()["db"].ID
	ls := execIn(t, db, "", "/bin/sh", "-c", "cd /data/db && echo *")
	if strings.TrimSpace(ls) != "ready.log restore.args restored" {
		t.Errorf("/data/db holds %q: want it emptied, then what the ready check and the load wrote", ls)
	}
	if got := execIn(t, db, "", "/bin/sh", "-c", "cat /data/db/restored"); got != archive {
		t.Errorf("mongorestore read %d bytes, the dump has %d", len(got), len(archive))
	}
	args, config := splitStandIn(execIn(t, db, "", "/bin/sh", "-c", "cat /data/db/restore.args"))
	want := "--archive --host=127.0.0.1 --username=root --authenticationDatabase=admin --drop --stopOnError --config=/dev/fd/3"
	if strings.Join(args, " ") != want || !strings.Contains(config, `p: "w' #x $(id) s3cret`) {
		t.Errorf("mongorestore got %q and config %q, want %q and the password", args, config, want)
	}
	ip := strings.TrimSpace(mustOK(t, docker(t, "", nil, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", db)).Stdout)
	ready := execIn(t, db, "", "/bin/sh", "-c", "cat /data/db/ready.log")
	if ip == "" || !strings.HasPrefix(ready, "--host="+ip+" --username=root --authenticationDatabase=admin --db=admin --collection=docker-maim-ready --archive=/dev/null --config=/dev/fd/3") {
		t.Errorf("the ready check ran %q, want it against the container's address %q", ready, ip)
	}

	// A load that fails: the volume comes back exactly, db stopped as before it.
	compose(t, p, "stop", "db")
	vol := p.volumeDir(p.Name + "_dbdata")
	tree := treediff.Of(t, vol)
	rewriteDump(t, p, id, dumps[0], archive+"FAIL-LOAD\n")
	fail := p.maim("restore", id, "--from-dump", "db", "--timeout", "1m")
	if fail.Code == 0 || !strings.Contains(fail.Stderr, "put back from safety backup") || !strings.Contains(fail.Stderr, "FAIL-LOAD in the archive") {
		t.Fatalf("a load that fails: want a failure that put the data back, with the tool's message: %s", fail)
	}
	treediff.AssertSame(t, tree, treediff.Of(t, vol), treediff.Options{})
	if st := containerState(t, db); st != "exited" {
		t.Errorf("db is %s after the failed load, want stopped as before", st)
	}
}
