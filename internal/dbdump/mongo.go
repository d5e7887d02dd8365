package dbdump

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// MongoDB's logical dumps: mongodump --archive of every database, written to its standard
// output, as the mongo image's root user (MONGO_INITDB_ROOT_USERNAME, authentication
// database admin) over 127.0.0.1; loaded by mongorestore --archive --drop --stopOnError from
// its standard input. The official image creates that user on a first start with both
// MONGO_INITDB_ROOT_USERNAME and MONGO_INITDB_ROOT_PASSWORD (or their _FILE) and then runs
// mongod --auth; with neither set the server asks for no login, and the tools are given none.
//
// The password never goes on a command line: MongoDB's tools take it from --password (seen
// in every process listing) or from a YAML --config file, so a shell inside the container
// writes that file to a here-document on descriptor 3 from the exec's environment (or from
// the _FILE's content) and the tool reads /dev/fd/3; no file is left on a disk.

const (
	// mongoPasswordVar and mongoUserVar carry the root user's password and, when it comes
	// from a file, its name to the shell inside the container (never to the tool's argv).
	mongoPasswordVar = "DOCKER_MAIM_MONGO_PASSWORD"
	mongoUserVar     = "DOCKER_MAIM_MONGO_USERNAME"
	// mongoAuthDB is where the image creates its root user.
	mongoAuthDB = "admin"
	// mongoHost is where the tools connect inside the container: the image's mongod
	// listens on every address (--bind_ip_all), 127.0.0.1 among them.
	mongoHost = "127.0.0.1"
	// mongoReadyCollection is a collection no server holds: mongodump of it connects,
	// logs in and lists admin's collections, dumps nothing and exits 0 (the ready check).
	mongoReadyCollection = "docker-maim-ready"
)

// mongoPasswordConfig is the shell text (Command.Then) that gives the tool the password as a
// YAML --config file on descriptor 3: a literal block scalar with an explicit indentation
// ("|2-"), so that no character of the password needs quoting (a password of several lines
// is not one MongoDB's tools can read: the YAML is refused and the tool exits non-zero).
// The here-document expands the variable once; its value is not read as shell text.
const mongoPasswordConfig = "exec 3<<DOCKER_MAIM_EOF\npassword: |2-\n  ${" + mongoPasswordVar + "}\nDOCKER_MAIM_EOF\n" +
	"unset " + mongoPasswordVar + "; set -- \"$@\" --config=/dev/fd/3; "

// mongoUserFromFile is the shell text that adds the user read from
// MONGO_INITDB_ROOT_USERNAME_FILE to the tool's arguments.
const mongoUserFromFile = "set -- \"$@\" --username=\"$" + mongoUserVar + "\"; unset " + mongoUserVar + "; "

// mongo is mongodump --archive of every database over 127.0.0.1, as the image's root user
// when the environment names one. One of the user and the password without the other is
// an error (the official entrypoint refuses to start so).
func mongo(e map[string]string) (Command, error) {
	c := Command{Engine: maim.DBMongoDB, Argv: []string{"mongodump", "--archive", "--host=" + mongoHost}, FromFile: map[string]string{}}
	user, userFile := e["MONGO_INITDB_ROOT_USERNAME"], e["MONGO_INITDB_ROOT_USERNAME_FILE"]
	pw, pwFile := e["MONGO_INITDB_ROOT_PASSWORD"], e["MONGO_INITDB_ROOT_PASSWORD_FILE"]
	hasUser, hasPw := user != "" || userFile != "", pw != "" || pwFile != ""
	switch {
	case !hasUser && !hasPw:
		c.FromFile = nil
		return c, nil // no root user: the server asks for no login
	case hasUser != hasPw:
		return Command{}, errors.New("the container's environment names only one of MONGO_INITDB_ROOT_USERNAME and MONGO_INITDB_ROOT_PASSWORD (or their _FILE): the mongo image needs both to create its root user")
	}
	if user != "" {
		c.Argv = append(c.Argv, "--username="+user)
	} else {
		c.FromFile[mongoUserVar] = userFile
		c.Then = mongoUserFromFile
	}
	c.Argv = append(c.Argv, "--authenticationDatabase="+mongoAuthDB)
	if pw != "" {
		c.Env, c.Secret = []string{mongoPasswordVar + "=" + pw}, "MONGO_INITDB_ROOT_PASSWORD"
	} else {
		c.FromFile[mongoPasswordVar], c.Secret = pwFile, "MONGO_INITDB_ROOT_PASSWORD_FILE"
	}
	c.Then += mongoPasswordConfig
	if len(c.FromFile) == 0 {
		c.FromFile = nil
	}
	return c, nil
}

// mongoLoadArgv is the load of a mongodump archive from standard input, connecting as the
// dump's argv does: mongorestore --archive --drop --stopOnError (each collection of the
// dump replaces the fresh server's, the users and roles of the dump's admin database
// replace the image's; the first failed insert stops the load, as psql's ON_ERROR_STOP).
func mongoLoadArgv(dump []string) []string {
	return append(append([]string{"mongorestore"}, dump[1:]...), "--drop", "--stopOnError")
}

// mongoReadyArgv is the ready check of a MongoDB server at host: mongodump of a collection
// no server holds, with the login of argv (a dump's or a load's), to /dev/null.
func mongoReadyArgv(argv []string, host string) []string {
	out := []string{"mongodump", "--host=" + host}
	for _, a := range argv[1:] {
		if strings.HasPrefix(a, "--username=") || strings.HasPrefix(a, "--authenticationDatabase=") {
			out = append(out, a)
		}
	}
	return append(out, "--db=admin", "--collection="+mongoReadyCollection, "--archive=/dev/null")
}

// readyCommand is ReadyCommand(c), for MongoDB over the container's own network address:
// the official entrypoint initialises a fresh data dir with a temporary mongod bound to
// 127.0.0.1 only (no --auth, the root user not made yet), which it then stops; the server
// it runs after listens on every address. A container with no address of its own (network
// mode host or none) is checked over 127.0.0.1, where the temporary server answers too: a
// load into it fails when it stops, and the caller puts the data back.
func readyCommand(ctx context.Context, eng Engine, id string, c Command) (Command, error) {
	r := ReadyCommand(c)
	if c.Engine != maim.DBMongoDB {
		return r, nil
	}
	ci, err := eng.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return r, err
	}
	if ns := ci.Container.NetworkSettings; ns != nil {
		if addr := firstAddress(ns.Networks); addr != "" {
			r.Argv = mongoReadyArgv(c.Argv, addr)
		}
	}
	return r, nil
}

// firstAddress is the IPv4 address of the container's first network by name ("" for none).
func firstAddress(nets map[string]*network.EndpointSettings) string {
	names := make([]string, 0, len(nets))
	for n := range nets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if ep := nets[n]; ep != nil && ep.IPAddress.Is4() && !ep.IPAddress.IsLoopback() {
			return ep.IPAddress.String()
		}
	}
	return ""
}

// family is the kind of database a dump request or an engine names: a dump of one loads
// into a server of the same family only (MariaDB and MySQL share one).
func family(kindOrEngine string) string {
	switch kindOrEngine {
	case "postgres", maim.DBPostgreSQL:
		return maim.DBPostgreSQL
	case "mongo", maim.DBMongoDB:
		return maim.DBMongoDB
	case maim.DBMariaDB, maim.DBMySQL:
		return maim.DBMySQL
	}
	return fmt.Sprint("other:", kindOrEngine)
}
