package dbdump

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/dbmajor"
	"github.com/docker-maim/docker-maim/internal/svchooks"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// The load side of a PostgreSQL major upgrade (upgrade --migrate-db): the dump Take took
// from the old server is fed to psql inside the new container, whose entrypoint has
// initialised a fresh cluster from the same POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB
// and POSTGRES_INITDB_ARGS. Every command runs with the container's own credentials, as
// Plan builds them for pg_dumpall (the password through the exec's environment only).

// Postgres is a PostgreSQL client tool (psql, pg_isready) run as the container's superuser
// with args after the user: Plan's pg_dumpall command with another tool. env is the
// container's environment; it holds no password on the command line.
func Postgres(env []string, tool string, args ...string) Command {
	c := postgres(dbmajor.Env(env))
	c.Argv = append(append([]string{tool}, c.Argv[1:]...), args...)
	return c
}

// Superuser is the user the official image creates (POSTGRES_USER, default postgres; ""
// when it comes from a file), and Database the database it creates (POSTGRES_DB, default
// the user).
func Superuser(env []string) (user, database string) {
	e := dbmajor.Env(env)
	user = e["POSTGRES_USER"]
	if user == "" && e["POSTGRES_USER_FILE"] == "" {
		user = "postgres"
	}
	database = e["POSTGRES_DB"]
	if database == "" {
		database = user
	}
	return user, database
}

// Run runs c inside container id with stdin (nil for none), its standard output to stdout
// (nil: discarded) and its standard error to stderr (nil: discarded); it returns the exit
// code once the tool ended.
func Run(ctx context.Context, eng Engine, id string, c Command, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	cr, err := eng.ExecCreate(ctx, id, client.ExecCreateOptions{
		AttachStdin: stdin != nil, AttachStdout: true, AttachStderr: true, Env: c.ExecEnv(), Cmd: c.Exec(),
	})
	if err != nil {
		return 0, err
	}
	ar, err := eng.ExecAttach(ctx, cr.ID, client.ExecAttachOptions{})
	if err != nil {
		return 0, err
	}
	defer ar.Close()
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	sent := make(chan error, 1)
	if stdin != nil {
		go func() {
			_, err := io.Copy(ar.Conn, stdin)
			if cerr := ar.CloseWrite(); err == nil {
				err = cerr
			}
			sent <- err
		}()
	} else {
		sent <- nil
	}
	done := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(stdout, stderr, ar.Reader)
		done <- err
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		ar.Close()
		<-done
		return 0, ctx.Err()
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("streaming its output: %w", err)
	}
	if err := <-sent; err != nil {
		return 0, fmt.Errorf("sending its input: %w", err)
	}
	return svchooks.ExitCode(ctx, eng, cr.ID)
}

// Query runs one SQL statement with psql in container id (env: its environment) in
// database db and returns its rows, one a line, columns separated by '|'.
func Query(ctx context.Context, eng Engine, id string, env []string, db, sql string) (string, error) {
	var out bytes.Buffer
	errs := &svchooks.Tail{Max: maxStderr}
	c := Postgres(env, "psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql)
	code, err := Run(ctx, eng, id, c, nil, &out, errs)
	if err == nil && code != 0 {
		err = fmt.Errorf("psql exited %d: %s", code, errs.String())
	}
	return strings.TrimSpace(out.String()), err
}

// Locale is what initdb fixed for a cluster: template1's encoding, collation and ctype.
type Locale struct{ Encoding, Collate, Ctype string }

func (l Locale) String() string {
	return fmt.Sprintf("encoding %s, LC_COLLATE %s, LC_CTYPE %s", l.Encoding, l.Collate, l.Ctype)
}

// InitdbArgs is the POSTGRES_INITDB_ARGS that makes initdb give a cluster this locale.
func (l Locale) InitdbArgs() string {
	return fmt.Sprintf("--encoding=%s --lc-collate=%s --lc-ctype=%s", l.Encoding, l.Collate, l.Ctype)
}

// localeSQL reads the locale from pg_database (SHOW lc_collate is gone in PostgreSQL 16).
const localeSQL = "SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database WHERE datname = 'template1'"

// ClusterLocale reads the locale of the cluster running in container id.
func ClusterLocale(ctx context.Context, eng Engine, id string, env []string) (Locale, error) {
	out, err := Query(ctx, eng, id, env, "postgres", localeSQL)
	if err != nil {
		return Locale{}, err
	}
	f := strings.Split(out, "|")
	if len(f) != 3 {
		return Locale{}, fmt.Errorf("the locale query answered %q", out)
	}
	return Locale{f[0], f[1], f[2]}, nil
}

// Ready tells whether the server in container id accepts connections over TCP on
// localhost: the official entrypoint's temporary server of the first start listens on the
// socket only, so a server ready over TCP is the final one.
func Ready(ctx context.Context, eng Engine, id string, env []string) bool {
	code, err := Run(ctx, eng, id, Postgres(env, "pg_isready", "-q", "-h", "localhost", "-d", "postgres"), nil, nil, nil)
	return err == nil && code == 0
}

// LoadError is a load whose psql reported errors other than the expected ones (or exited
// non-zero): Errors are the first of them.
type LoadError struct {
	Service  string
	ExitCode int
	Count    int
	Errors   []string
}

func (e *LoadError) Error() string {
	s := fmt.Sprintf("loading the dump into the new PostgreSQL of %s: psql exited %d, %d unexpected error(s)", e.Service, e.ExitCode, e.Count)
	if len(e.Errors) > 0 {
		s += ": " + strings.Join(e.Errors, "; ")
	}
	return s
}

// maxErrors is how many unexpected errors a LoadError shows.
const maxErrors = 5

// LoadAndAnalyze feeds dump (pg_dumpall's SQL) to psql -v ON_ERROR_STOP=0 as the superuser in
// database postgres inside container id, then runs ANALYZE in every database that accepts
// connections. The entrypoint created the superuser and POSTGRES_DB already: their
// "already exists" errors are expected; any other error fails the load (*LoadError).
func LoadAndAnalyze(ctx context.Context, eng Engine, service, id string, env []string, dump io.Reader) error {
	user, db := Superuser(env)
	lines := &errorLines{expected: ExpectedErrors(user, db)}
	c := Postgres(env, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=0", "-d", "postgres")
	code, err := Run(ctx, eng, id, c, dump, nil, lines)
	if err != nil {
		return fmt.Errorf("loading the dump into the new PostgreSQL of %s: %w", service, err)
	}
	lines.flush()
	if code != 0 || lines.count > 0 {
		return &LoadError{Service: service, ExitCode: code, Count: lines.count, Errors: lines.kept}
	}
	dbs, err := Query(ctx, eng, id, env, "postgres", "SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1")
	if err != nil {
		return fmt.Errorf("listing the databases to analyze: %w", err)
	}
	for _, d := range strings.Split(dbs, "\n") {
		if d == "" {
			continue
		}
		if _, err := Query(ctx, eng, id, env, d, "ANALYZE"); err != nil {
			return fmt.Errorf("ANALYZE in database %s: %w", d, err)
		}
	}
	return nil
}

// ExpectedErrors are the errors pg_dumpall's SQL gives on a cluster the official
// entrypoint initialised: its superuser and its database exist already. ("" user: it came
// from a file, its name unknown here: role "*" accepts any role's "already exists".)
func ExpectedErrors(user, db string) []string {
	if user == "" {
		user = "*"
	}
	return []string{`ERROR:  role "` + user + `" already exists`, `ERROR:  database "` + db + `" already exists`}
}

// errorLines is psql's standard error, line by line: it counts the ERROR lines that are
// not expected and keeps the first maxErrors.
type errorLines struct {
	expected []string
	partial  []byte
	count    int
	kept     []string
}

func (w *errorLines) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.line(string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
	if len(w.partial) > 64<<10 {
		w.line(string(w.partial))
		w.partial = nil
	}
	return len(p), nil
}

func (w *errorLines) flush() {
	if len(w.partial) > 0 {
		w.line(string(w.partial))
		w.partial = nil
	}
}

// line counts one line of psql's standard error ("psql:<stdin>:12: ERROR:  ..." or
// "ERROR:  ...").
func (w *errorLines) line(l string) {
	i := strings.Index(l, "ERROR:")
	if i < 0 && !strings.HasPrefix(l, "FATAL:") {
		return
	}
	if i >= 0 {
		l = l[i:]
		for _, e := range w.expected {
			if l == e || e == `ERROR:  role "*" already exists` && strings.HasPrefix(l, `ERROR:  role "`) && strings.HasSuffix(l, `" already exists`) {
				return
			}
		}
	}
	w.count++
	if len(w.kept) < maxErrors {
		w.kept = append(w.kept, strings.TrimSpace(l))
	}
}

// IsPostgres tells whether an image (ref, environment) runs PostgreSQL.
func IsPostgres(ref string, env []string) bool {
	return dbmajor.Detect(dbmajor.Image{Ref: ref, Env: env}).Engine == maim.DBPostgreSQL
}
