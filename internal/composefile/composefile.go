// Package composefile owns minimal edits of a project's compose and env files: it finds
// where a service's image reference is set, as `docker compose` would read it (the last
// compose file of the -f list that sets services.<svc>.image, through ${VAR} interpolation
// from the shell or the project's env files), and rewrites only the bytes of that value:
// the image scalar in the compose file, the variable's value in the env file that sets it,
// the default of ${VAR:-default} when the variable is set nowhere, or the text written
// around the variables of the image scalar (the tag of ${REGISTRY}/app:1.2). Comments, key order,
// quoting, anchors and line endings stay byte-identical. A reference it cannot express
// that way (an alias shared by other nodes, a variable set in the shell, a template that
// would need two variables changed) is an error that says why; the files are never
// touched then. Plan works the edits out and proves them by reading the edited files back
// as compose would; Apply writes them.
package composefile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/config"
)

// Sources are the files a project's image references come from.
type Sources struct {
	// ComposeFiles in -f order (a later file overrides an earlier one).
	ComposeFiles []string
	// EnvFiles are the project's dotenv files in order (a later one wins): the explicit
	// --env-file ones, or the project directory's .env.
	EnvFiles []string
	// Shell looks up the environment of the command (it wins over the env files, as in
	// compose); nil is os.LookupEnv.
	Shell func(key string) (string, bool)
	// Inactive are services under profiles nobody enabled: nothing runs them, so an edit
	// of a variable they share with a service of want may move their image too.
	Inactive []string
}

func (s Sources) shell(k string) (string, bool) {
	if s.Shell == nil {
		return os.LookupEnv(k)
	}
	return s.Shell(k)
}

// Edit is one minimal edit of a file: the bytes Old at File:Line:Column (byte offset
// Offset) become New (api.FileEdit, with its one-line Describe).
type Edit = api.FileEdit

// Plan works out the edits that make each service of want name its reference (service ->
// reference) in the files. Services that already name it need none. A service whose
// reference cannot be written is left out with an error (errors.Join of one per service,
// each naming the service); the edits returned are still good for the others. The edits
// are proven before they are returned: read back as compose reads them, the edited files
// give each service of want its reference and every other service the image it had (but
// an inactive one, see Sources.Inactive).
func Plan(src Sources, want map[string]string) ([]Edit, error) {
	st, err := load(src)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(want))
	for s := range want {
		names = append(names, s)
	}
	sort.Strings(names)
	var edits []Edit
	var errs []error
	expect := map[string]string{}
	before, err := st.images(nil)
	if err != nil {
		return nil, err
	}
	for s, ref := range before {
		expect[s] = ref
	}
	for _, svc := range names {
		e, err := st.editFor(svc, want[svc])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", svc, err))
			continue
		}
		if e == nil {
			continue
		}
		if edits, err = addEdit(edits, *e); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", svc, err))
			continue
		}
		expect[svc] = want[svc]
	}
	if len(edits) == 0 {
		return nil, errors.Join(errs...)
	}
	after, err := st.images(edits)
	if err != nil {
		return nil, errors.Join(append(errs, fmt.Errorf("the edited files would not read back: %w", err))...)
	}
	var bad []string
	for s, ref := range expect {
		if _, wanted := want[s]; !wanted && slices.Contains(src.Inactive, s) {
			continue
		}
		if after[s] != ref {
			bad = append(bad, fmt.Sprintf("%s would name %q, not %q", s, after[s], ref))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		var what []string
		for _, e := range edits {
			what = append(what, e.Describe(""))
		}
		return nil, errors.Join(append(errs, fmt.Errorf("the edits (%s) would change more than asked: %s", strings.Join(what, "; "), strings.Join(bad, "; ")))...)
	}
	return edits, errors.Join(errs...)
}

// addEdit adds e, merging it with an edit of the same bytes (two services whose images
// share a variable) and refusing two different edits of them.
func addEdit(edits []Edit, e Edit) ([]Edit, error) {
	for i := range edits {
		o := &edits[i]
		if o.File != e.File || o.Offset+len(o.Old) <= e.Offset || e.Offset+len(e.Old) <= o.Offset {
			continue
		}
		if o.Offset == e.Offset && o.Old == e.Old && o.New == e.New {
			o.Services = append(o.Services, e.Services...)
			return edits, nil
		}
		return edits, fmt.Errorf("%s would need %s:%d changed to %q, but %s needs %q there", strings.Join(e.Services, ", "), e.File, e.Line, e.New, strings.Join(o.Services, ", "), o.New)
	}
	return append(edits, e), nil
}

// Apply writes the edits into their files, each file replaced atomically with its mode
// and owner kept. It first checks that every file still holds the bytes the plan saw
// there, and changes nothing when one does not.
func Apply(edits []Edit) error {
	byFile := map[string][]Edit{}
	var files []string
	for _, e := range edits {
		if _, ok := byFile[e.File]; !ok {
			files = append(files, e.File)
		}
		byFile[e.File] = append(byFile[e.File], e)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		nb, err := splice(b, byFile[f])
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		out[f] = nb
	}
	for _, f := range files {
		if err := config.ApplyFile(f, out[f]); err != nil {
			return err
		}
	}
	return nil
}

// splice applies edits of one file to its bytes, last offset first.
func splice(b []byte, edits []Edit) ([]byte, error) {
	es := append([]Edit(nil), edits...)
	sort.Slice(es, func(i, j int) bool { return es[i].Offset > es[j].Offset })
	out := append([]byte(nil), b...)
	for _, e := range es {
		end := e.Offset + len(e.Old)
		if e.Offset < 0 || end > len(out) || !bytes.Equal(out[e.Offset:end], []byte(e.Old)) {
			return nil, fmt.Errorf("line %d no longer holds %q (the file changed since the plan)", e.Line, e.Old)
		}
		out = append(out[:e.Offset:e.Offset], append([]byte(e.New), out[end:]...)...)
	}
	return out, nil
}
