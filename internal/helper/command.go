package helper

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/docker-maim/docker-maim/internal/archive"
	"github.com/docker-maim/docker-maim/internal/diffrestore"
	"github.com/docker-maim/docker-maim/internal/fsaccess"
)

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// invocation is one command line of the helper, parsed (see Main).
type invocation struct {
	cmd      string // backup, restore or measure
	target   string // PATH
	c        archive.Compression
	level    int
	excludes stringList
	archives stringList // diffrestore: the archive files, base first
	// DIRECT: the marker the host wrote and the file to write or read instead of the stream.
	marker, token, file string
	// Two-pass backups, a delta restore, the go-ahead and the lifeline.
	indexOut, indexFinal, sinceStdin, delta, awaitGo, lifeline bool
	beneath                                                    *fsaccess.Beneath // BENEATH, when given
	// The two passes of a differential restore: diffstage (--drop), diffrestore
	// --staged-stdin (its record, read in preflight).
	stage, stagedStdin bool
	staged             *diffrestore.Staged
	dropStage          string
	// swap, drop: the side directory's name and whether the target takes its attributes.
	from      string
	rootAttrs bool
}

// Run is Main with explicit streams (for tests). Its steps: the command line is parsed;
// measure reports and returns; backup and restore check what must hold before anything is
// touched (preflight), tie the run to its caller (--lifeline), open the file of the backup
// dir (--out, --in) and transfer the archive, reporting its stats.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	rep := &reporter{w: stderr}
	inv, err := parseArgs(args)
	if err != nil {
		return rep.fail(2, err)
	}
	if inv.cmd == "measure" {
		return inv.measure(ctx, stdin, rep)
	}
	if inv.cmd == "swap" || inv.cmd == "drop" {
		return inv.sideDir(ctx, rep)
	}
	since, code := inv.preflight(stdin, rep)
	if code != 0 {
		return code
	}
	if inv.lifeline {
		var cancel context.CancelCauseFunc
		ctx, stdin, cancel = inv.tieToCaller(ctx, stdin)
		defer cancel(nil)
	}
	var f *os.File
	if inv.file != "" {
		if f, err = inv.openDirect(); err != nil {
			return rep.fail(1, err)
		}
		defer f.Close()
		if inv.cmd == "backup" {
			stdout = f // stdin stays: pass two's index comes in on it
		} else {
			stdin = f
		}
	}
	if inv.cmd == "diffrestore" || inv.cmd == "diffstage" {
		return inv.diff(ctx, rep, f)
	}
	stdin = inv.withFailpoint(ctx, stdin)
	return inv.transfer(ctx, rep, stdin, stdout, f, since)
}

// parseArgs parses a command line (its errors are usage errors: exit code 2).
func parseArgs(args []string) (*invocation, error) {
	if len(args) == 0 {
		return nil, errors.New("usage: maim-helper backup|restore|measure [flags] PATH")
	}
	inv := &invocation{cmd: args[0]}
	fs := flag.NewFlagSet("maim-helper "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	comp := fs.String("compression", string(archive.Zstd), "zstd, gzip or none")
	fs.StringVar(&inv.marker, "marker", "", "file the host wrote into the mounted backup dir")
	fs.StringVar(&inv.token, "token", "", "what the marker file holds")
	var beneath string
	var aliases stringList
	if err := inv.defineFlags(fs, &beneath, &aliases); err != nil {
		return nil, err
	}
	if err := fs.Parse(args[1:]); err != nil {
		return nil, err
	}
	if beneath != "" {
		inv.beneath = &fsaccess.Beneath{Dir: beneath, Aliases: aliases}
	}
	if fs.NArg() != 1 {
		return nil, fmt.Errorf("%s: want exactly one path, got %d", args[0], fs.NArg())
	}
	c, err := archive.ParseCompression(*comp)
	if err != nil {
		return nil, err
	}
	inv.c, inv.target = c, fs.Arg(0)
	return inv, nil
}

// defineFlags defines the flags of inv.cmd on fs; an unknown command is an error.
func (inv *invocation) defineFlags(fs *flag.FlagSet, beneath *string, aliases *stringList) error {
	if inv.cmd != "measure" {
		fs.BoolVar(&inv.lifeline, "lifeline", false, "stop when stdin ends after what the command reads from it")
	}
	switch inv.cmd {
	case "backup":
		fs.IntVar(&inv.level, "level", 0, "compression level (0: codec default)")
		fs.Var(&inv.excludes, "exclude", "pattern to leave out (repeatable)")
		fs.StringVar(&inv.file, "out", "", "existing file to write the archive into instead of stdout")
		fs.BoolVar(&inv.indexOut, "index-out", false, "pass one: write the index on stderr")
		fs.BoolVar(&inv.indexFinal, "index-final", false, "write the index of the tree as archived on stderr")
		fs.BoolVar(&inv.sinceStdin, "since-stdin", false, "pass two: read pass one's index from stdin, write the delta")
	case "restore":
		fs.Var(&inv.excludes, "exclude", "pattern of paths to keep as they are (repeatable)")
		fs.StringVar(&inv.file, "in", "", "file to read the archive from instead of stdin")
		fs.BoolVar(&inv.delta, "delta", false, "apply a delta over the extracted base")
		fs.BoolVar(&inv.awaitGo, "await-go", false, "touch nothing before stdin starts with the go-ahead")
	case "diffrestore", "diffstage":
		inv.stage = inv.cmd == "diffstage"
		fs.Var(&inv.excludes, "exclude", "pattern of paths to keep as they are (repeatable)")
		fs.StringVar(&inv.file, "in", "", "the backup's index file of the source")
		fs.Var(&inv.archives, "archive", "an archive file of the source, base first (repeatable)")
		fs.BoolVar(&inv.awaitGo, "await-go", false, "touch nothing before stdin starts with the go-ahead")
		if inv.stage {
			fs.StringVar(&inv.dropStage, "drop", "", "remove the stage dir NAME instead")
		} else {
			fs.BoolVar(&inv.stagedStdin, "staged-stdin", false, "pass two: read the stage record from stdin, rename what is untouched")
		}
	case "measure":
		fs.Var(&inv.excludes, "exclude", "pattern to leave out (repeatable)")
		fs.BoolVar(&inv.sinceStdin, "since-stdin", false, "read a base's index from stdin, report what an increment over it can hold")
	case "swap", "drop":
		fs.StringVar(&inv.from, "from", "", "the side directory: one entry of PATH")
		fs.BoolVar(&inv.rootAttrs, "root-attrs", false, "swap: PATH takes the side directory's mode and owner")
	default:
		return fmt.Errorf("unknown helper command %q", inv.cmd)
	}
	if inv.cmd != "measure" {
		fs.StringVar(beneath, "beneath", "", "PATH is a single file that must stay beneath this directory")
		fs.Var(aliases, "alias", "another absolute name of the --beneath directory that symlinks may use (repeatable)")
	}
	return nil
}

// measure reports the content bytes a backup of the target would count (--since-stdin:
// what an increment can hold, measuresince.go).
func (inv *invocation) measure(ctx context.Context, stdin io.Reader, rep *reporter) int {
	if inv.sinceStdin {
		return inv.measureSince(ctx, stdin, rep)
	}
	n, err := fsaccess.Measure(ctx, inv.target, inv.excludes)
	if err != nil {
		return rep.fail(1, err)
	}
	// Nothing goes to stdout: the stream the host checks is the empty one.
	rep.send(Msg{Stats: &archive.Stats{Bytes: n}, StreamSHA256: NewStreamSum().Hex()})
	return 0
}

// preflight checks what must hold before anything is touched: the marker the host wrote
// is visible (DIRECT), the host gave the go-ahead (--await-go); and reads pass one's index
// (--since-stdin). A nonzero code is the exit code of a failure already reported.
func (inv *invocation) preflight(stdin io.Reader, rep *reporter) (since *archive.Index, code int) {
	if (inv.marker == "") != (inv.token == "") {
		return nil, rep.fail(2, errors.New("--marker and --token go together"))
	}
	if inv.marker != "" {
		if err := CheckMarker(inv.marker, inv.token); err != nil {
			rep.send(Msg{Error: err.Error(), NotVisible: true})
			return nil, ExitNotVisible
		}
	}
	if inv.awaitGo {
		got := make([]byte, len(GoAhead))
		if _, err := io.ReadFull(stdin, got); err != nil || string(got) != GoAhead {
			return nil, rep.fail(ExitNoGoAhead, errors.New("the host gave no go-ahead; nothing was touched"))
		}
	}
	if inv.stagedStdin {
		b, err := readFramedBytes(stdin)
		if err == nil {
			inv.staged, err = diffrestore.UnmarshalStaged(b)
		}
		if err != nil {
			return nil, rep.fail(1, err)
		}
	}
	if inv.sinceStdin {
		// The index comes framed (its length first): stdin stays open after it.
		since, err := readFramed(stdin)
		if err != nil {
			return nil, rep.fail(1, err)
		}
		return since, 0
	}
	return nil, 0
}

// tieToCaller cancels the run when stdin ends after what the command reads from it
// (--lifeline; see Main).
func (inv *invocation) tieToCaller(ctx context.Context, stdin io.Reader) (context.Context, io.Reader, context.CancelCauseFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	if inv.cmd == "restore" && inv.file == "" {
		// The archive comes framed on stdin; the lifeline is watched after its end.
		stdin = &frameReader{r: stdin, cancel: cancel}
	} else {
		go watchLifeline(stdin, cancel)
	}
	return ctx, stdin, cancel
}

// openDirect opens the file of the backup dir the archive is written into (backup --out)
// or read from (restore --in).
func (inv *invocation) openDirect() (*os.File, error) {
	if inv.cmd == "backup" {
		// Never created here: the host made it, so its owner and mode are the repository's.
		return os.OpenFile(inv.file, os.O_WRONLY|os.O_TRUNC, 0)
	}
	return os.Open(inv.file)
}

// transfer runs the backup or restore with progress reports, the stream counted and hashed,
// and reports its stats (and pass one's index); f is the file of the backup dir, if any.
func (inv *invocation) transfer(ctx context.Context, rep *reporter, stdin io.Reader, stdout io.Writer, f *os.File, since *archive.Index) int {
	stopProgress := rep.start()
	var st archive.Stats
	var err error
	// The stream is counted and hashed on both sides: the engine's attach path is known to
	// drop data in some versions, and a silently short archive must never pass as a backup.
	// Written into the backup dir directly, the hash is the one the manifest records. Read
	// from it directly (restore --in), the host checked the file's hash before the go-ahead
	// and compares only the count: hashing it again here would cost a core's quarter second
	// per 400 MB while the writers need both cores.
	sum := NewStreamSum()
	if inv.cmd == "restore" && inv.file != "" {
		sum = NewStreamCounter()
	}
	pass := Pass{Beneath: inv.beneath}
	if inv.indexOut {
		pass.Record = archive.NewIndex()
	} else if inv.indexFinal {
		pass.Final = archive.NewIndex()
	}
	pass.Since = since
	switch {
	case inv.cmd == "backup":
		st, err = BackupPass(ctx, inv.target, io.MultiWriter(stdout, sum), inv.c, inv.level, inv.excludes, rep.add, pass)
		if f != nil {
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
	case inv.delta:
		st, err = RestoreDelta(ctx, inv.target, io.TeeReader(stdin, sum), inv.c, inv.excludes, rep.add)
	case inv.beneath != nil:
		st, err = RestoreBeneath(ctx, inv.target, inv.beneath, io.TeeReader(stdin, sum), inv.c, rep.add)
	default:
		st, err = Restore(ctx, inv.target, io.TeeReader(stdin, sum), inv.c, inv.excludes, rep.add)
	}
	stopProgress()
	if err != nil {
		if errors.Is(context.Cause(ctx), ErrCallerGone) {
			return rep.fail(ExitAborted, fmt.Errorf("%w: stopped at a safe point (%v)", ErrCallerGone, err))
		}
		return rep.fail(1, err)
	}
	if idx := pass.Record; idx != nil || pass.Final != nil {
		if idx == nil {
			idx = pass.Final
		}
		if err := rep.sendIndex(idx); err != nil {
			return rep.fail(1, err)
		}
	}
	rep.send(Msg{Stats: &st, MaxRSS: PeakRSSKiB(), StreamBytes: sum.N, StreamSHA256: sum.Hex()})
	return 0
}
