package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Action is what an upgrade does with one config file.
type Action string

const (
	// ActionMerge merges the current file into the template.
	ActionMerge Action = "merge"
	// ActionCopyTemplate writes the template as is: there is no current file
	// (first deploy), as the application itself would.
	ActionCopyTemplate Action = "copy-template"
)

// TemplateSource says where a template comes from: a file in a service's
// image (Service/Image + Path), or a file on the host (HostPath).
type TemplateSource struct {
	Service  string `json:"service,omitempty"`
	Image    string `json:"image,omitempty"`
	Path     string `json:"path,omitempty"`
	HostPath string `json:"host_path,omitempty"`
}

func (s TemplateSource) String() string {
	if s.HostPath != "" {
		return s.HostPath
	}
	who := s.Image
	if who == "" {
		who = "service " + s.Service
	}
	return who + ":" + s.Path
}

// Plan is one planned config merge.
type Plan struct {
	File       string         `json:"file"` // host path of the config file
	Service    string         `json:"service,omitempty"`
	Template   TemplateSource `json:"template"`
	Format     Format         `json:"format"`
	VersionKey string         `json:"version_key,omitempty"`
	Action     Action         `json:"action"`
	// Optional plans (detected ones) are skipped when the template is missing.
	Optional bool `json:"optional,omitempty"`
	// Origin is "x-maim" or "maibot".
	Origin string `json:"origin"`
}

// Options returns the merge options for the plan.
func (p Plan) Options(keepUnknown bool) Options {
	o := Options{Format: p.Format, KeepUnknown: keepUnknown, TemplateName: p.Template.String(), CurrentName: p.File}
	if p.VersionKey != "" {
		o.VersionKeys = []string{p.VersionKey}
	}
	return o
}

// ActionFor is the action a plan for file starts with: merge when the file exists, else
// copy the template (Prepare decides again when it reads the file).
func ActionFor(file string) Action {
	if _, err := os.Lstat(file); errors.Is(err, fs.ErrNotExist) {
		return ActionCopyTemplate
	}
	return ActionMerge
}

// ErrTemplateNotFound is wrapped by LoadTemplate when a host template is missing, and by an
// ImageReader when the image has no file at the path.
var ErrTemplateNotFound = errors.New("template not found")

// ImageReader reads a file out of an image without running it; internal/templates reads it
// through the engine (templates.Reader). A missing file is an error wrapping
// ErrTemplateNotFound.
type ImageReader interface {
	ReadImageFile(ctx context.Context, image, filePath string) ([]byte, error)
}

// LoadTemplate reads a template from the host or, through images, from an image.
func LoadTemplate(ctx context.Context, images ImageReader, src TemplateSource) ([]byte, error) {
	if src.HostPath != "" {
		b, err := os.ReadFile(src.HostPath)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrTemplateNotFound, src.HostPath)
		}
		return b, err
	}
	if src.Image == "" {
		return nil, fmt.Errorf("template %s: no image resolved for service %q", src.Path, src.Service)
	}
	if images == nil {
		return nil, fmt.Errorf("template %s: no engine client", src)
	}
	return images.ReadImageFile(ctx, src.Image, src.Path)
}

// Result is a prepared (not yet written) merge.
type Result struct {
	Plan     Plan
	Current  []byte // nil when the file does not exist
	Template []byte
	Merged   []byte // what ApplyFile should write
	// Dir is the config file's directory as it resolved when the merge was prepared
	// (symlinks followed): ApplyMerge writes nowhere else.
	Dir    string
	Report Report
	// Skipped says why nothing is to be done (an optional plan whose template
	// is missing); Merged is nil then.
	Skipped string
}

// Changed reports whether writing Merged would change the file.
func (r Result) Changed() bool {
	return r.Skipped == "" && (r.Current == nil || !bytes.Equal(r.Current, r.Merged))
}

// Prepare loads the plan's template (from the host, or from an image through images) and
// current file and merges them, writing nothing. A parse error in either is a *ParseError;
// run every Prepare before stopping anything.
func Prepare(ctx context.Context, images ImageReader, p Plan, keepUnknown bool) (Result, error) {
	res := Result{Plan: p}
	tmpl, err := LoadTemplate(ctx, images, p.Template)
	if err != nil {
		if p.Optional && errors.Is(err, ErrTemplateNotFound) {
			res.Skipped = fmt.Sprintf("template %s not found", p.Template)
			return res, nil
		}
		return res, err
	}
	res.Template = tmpl
	opts := p.Options(keepUnknown)
	if res.Dir, err = resolvedDir(p.File); err != nil {
		return res, err
	}
	if _, err := within(p.File, res.Dir); err != nil {
		return res, err // never read (and diff) a file outside its directory
	}
	fi, err := os.Stat(p.File)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		res.Plan.Action = ActionCopyTemplate
		// Parse the template anyway: a broken template must stop the upgrade.
		if _, _, err := Merge(tmpl, tmpl, opts); err != nil {
			return res, err
		}
		res.Merged = tmpl
		res.Report = Report{File: p.File, Format: p.Format, Action: string(ActionCopyTemplate)}
		res.Report.Normalize()
		return res, nil
	case err != nil:
		return res, err
	case fi.IsDir():
		return res, fmt.Errorf("%s is a directory, not a config file (Docker creates one when a bind-mounted file is missing); remove it and run again", p.File)
	}
	cur, err := os.ReadFile(p.File)
	if err != nil {
		return res, err
	}
	res.Plan.Action = ActionMerge
	res.Current = cur
	merged, rep, err := Merge(tmpl, cur, opts)
	if err != nil {
		return res, err
	}
	rep.Action = string(ActionMerge)
	res.Merged, res.Report = merged, rep
	return res, nil
}

// ExtensionKey is the compose extension docker-maim reads.
const ExtensionKey = "x-maim"

// ExtensionOptions tells PlansFromExtension where the extension came from.
type ExtensionOptions struct {
	// Service is the service whose extensions hold the value ("" for the
	// project's top-level x-maim); it is the default template service.
	Service string
	// BaseDir resolves relative paths (the project's working directory).
	BaseDir string
	// Images maps services to the image of the version being installed; when
	// set, every template service must be in it.
	Images map[string]string
}

// PlansFromExtension reads config declarations from the value of an x-maim
// extension (as compose-go gives it: map[string]any):
//
//	x-maim:
//	  configs:
//	    - file: ./docker-config/mmc/bot_config.toml     # host path
//	      template: {service: core, path: /MaiMBot/template/bot_config_template.toml}
//	      format: toml                                   # default: from the file name
//	      version_key: inner.version
//	    - file: ./docker-config/mmc/.env
//	      template: {host_path: ./templates/template.env}
//
// Other keys of x-maim are left to their owners; unknown keys inside an entry
// are errors.
func PlansFromExtension(ext any, o ExtensionOptions) ([]Plan, error) {
	if ext == nil {
		return nil, nil
	}
	m, ok := asMap(ext)
	if !ok {
		return nil, fmt.Errorf("%s: want a mapping, got %T", ExtensionKey, ext)
	}
	raw, ok := m["configs"]
	if !ok || raw == nil {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("%s.configs: want a list, got %T", ExtensionKey, raw)
	}
	var plans []Plan
	for i, item := range list {
		where := fmt.Sprintf("%s.configs[%d]", ExtensionKey, i)
		if o.Service != "" {
			where = fmt.Sprintf("services.%s.%s", o.Service, where)
		}
		p, err := planFromEntry(item, o, where)
		if err != nil {
			return nil, err
		}
		plans = append(plans, p)
	}
	return plans, nil
}

func asMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, v := range m {
			ks, ok := k.(string)
			if !ok {
				return nil, false
			}
			out[ks] = v
		}
		return out, true
	}
	return nil, false
}

func stringField(m map[string]any, key, where string) (string, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s.%s: want a string, got %T", where, key, v)
	}
	return s, nil
}

func checkKeys(m map[string]any, where string, allowed ...string) error {
	var bad []string
	for k := range m {
		found := false
		for _, a := range allowed {
			found = found || k == a
		}
		if !found {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("%s: unknown key(s) %s (known: %s)", where, strings.Join(bad, ", "), strings.Join(allowed, ", "))
	}
	return nil
}

func (o ExtensionOptions) abs(p string) string {
	if p == "" || filepath.IsAbs(p) || o.BaseDir == "" {
		return p
	}
	return filepath.Join(o.BaseDir, p)
}

func planFromEntry(item any, o ExtensionOptions, where string) (Plan, error) {
	m, ok := asMap(item)
	if !ok {
		return Plan{}, fmt.Errorf("%s: want a mapping, got %T", where, item)
	}
	if err := checkKeys(m, where, "file", "template", "format", "version_key"); err != nil {
		return Plan{}, err
	}
	file, err := stringField(m, "file", where)
	if err != nil {
		return Plan{}, err
	}
	if file == "" {
		return Plan{}, fmt.Errorf("%s.file: required", where)
	}
	p := Plan{File: o.abs(file), Service: o.Service, Origin: "x-maim"}
	fstr, err := stringField(m, "format", where)
	if err != nil {
		return Plan{}, err
	}
	if fstr != "" {
		if p.Format, err = ParseFormat(fstr); err != nil {
			return Plan{}, fmt.Errorf("%s.format: %w", where, err)
		}
	} else if p.Format = FormatFromName(file); p.Format == "" {
		return Plan{}, fmt.Errorf("%s.format: cannot tell the format of %s; set format: toml|env|yaml|json", where, file)
	}
	if p.VersionKey, err = stringField(m, "version_key", where); err != nil {
		return Plan{}, err
	}
	tw := where + ".template"
	tm, ok := asMap(m["template"])
	if !ok {
		return Plan{}, fmt.Errorf("%s: required, a mapping with service and path, or host_path", tw)
	}
	if err := checkKeys(tm, tw, "service", "path", "host_path"); err != nil {
		return Plan{}, err
	}
	var src TemplateSource
	for key, dst := range map[string]*string{"service": &src.Service, "path": &src.Path, "host_path": &src.HostPath} {
		if *dst, err = stringField(tm, key, tw); err != nil {
			return Plan{}, err
		}
	}
	switch {
	case src.HostPath != "" && (src.Path != "" || src.Service != ""):
		return Plan{}, fmt.Errorf("%s: give either host_path or service and path, not both", tw)
	case src.HostPath != "":
		src.HostPath = o.abs(src.HostPath)
	case src.Path == "":
		return Plan{}, fmt.Errorf("%s: path (inside the image) or host_path is required", tw)
	default:
		if !path.IsAbs(src.Path) {
			return Plan{}, fmt.Errorf("%s.path: %q must be absolute inside the image", tw, src.Path)
		}
		if src.Service == "" {
			src.Service = o.Service
		}
		if src.Service == "" {
			return Plan{}, fmt.Errorf("%s.service: required at the project level", tw)
		}
		if o.Images != nil {
			img, ok := o.Images[src.Service]
			if !ok {
				return Plan{}, fmt.Errorf("%s.service: no service %q in the project", tw, src.Service)
			}
			src.Image = img
		}
	}
	p.Template = src
	p.Action = ActionFor(p.File)
	return p, nil
}
