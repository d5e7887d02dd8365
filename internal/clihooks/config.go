// Package clihooks owns docker-maim's part of the docker CLI's own config.json: the hooks
// the CLI asks docker-maim for hints after (`docker maim hooks enable|disable`), written
// through docker/cli's config package so a symlinked file stays one and every member
// docker-maim did not add is kept; what features.hooks was before, to put it back; and
// the docker CLI's version, which decides between hooks and error-hooks.
package clihooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker/cli/cli-plugins/metadata"
	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
)

// The docker CLI's settings docker maim hooks enable writes in its config.json, and the
// marker docker-maim keeps there to put back what it changed.
//
//   - features.hooks: the CLI's switch for plugin hooks (docker 26.1+). It is the user's
//     setting as much as docker-maim's: other plugins' hooks need it too.
//   - plugins.maim.hooks: the commands after which the CLI asks docker-maim for hints,
//     whatever their outcome; plugins.maim.error-hooks (docker CLI 29.3+): the commands
//     after whose failure only. Before 29.3 a plugin command such as `compose up` ran its
//     hooks only when it succeeded, with no error to tell, so a failed `compose up` cannot
//     get a hint there.
//   - plugins.maim.features-hooks-before: what features.hooks was before docker-maim
//     first set it ("unset", or "set:" and its value), so hooks disable can put it back.
//     plugins.maim is docker-maim's own section of the file (the CLI hands a plugin's
//     section to it alone and reads only "hooks" and "error-hooks" there).
//   - plugins.maim.config-created: "true" when hooks enable made config.json, so that
//     hooks disable removes it again when nothing else was put in it since.
const (
	hooksFeature      = "hooks"
	hooksKey          = "hooks"
	errorHooksKey     = "error-hooks"
	hooksBeforeKey    = "features-hooks-before"
	hooksBeforeUnset  = "unset"
	hooksBeforeSetPfx = "set:"
	createdKey        = "config-created"
	pluginSection     = "maim"
	hookPull          = "compose pull"
	hookUp            = "compose up"
)

// MaxHintLines is the most lines a hook answer may have: docker CLI 29.5+ drops an answer
// with more than 10 line breaks (cli-plugins/hooks.ParseTemplate); docker-maim stays at
// 10 lines, 9 breaks.
const MaxHintLines = 10

// Version is the docker CLI's version as major and minor; known is false when it could
// not be learned.
type Version struct {
	major, minor int
	known        bool
	text         string
}

// atLeast reports whether v is known and at least major.minor.
func (v Version) atLeast(major, minor int) bool {
	return v.known && (v.major > major || v.major == major && v.minor >= minor)
}

var dockerVersionRE = regexp.MustCompile(`(?i)version\s+v?(\d+)\.(\d+)(?:\.\d+)?[^\s,]*`)

// ParseDockerVersion reads `docker --version`'s line ("Docker version 29.3.0, build
// 1a2b3c"); an unrecognised line gives an unknown version.
func ParseDockerVersion(out string) Version {
	m := dockerVersionRE.FindStringSubmatch(out)
	if m == nil {
		return Version{}
	}
	major, err1 := strconv.Atoi(m[1])
	minor, err2 := strconv.Atoi(m[2])
	if err1 != nil || err2 != nil {
		return Version{}
	}
	return Version{major: major, minor: minor, known: true, text: strings.TrimPrefix(strings.Fields(m[0])[1], "v")}
}

// DockerCLIVersion asks the docker CLI that ran this plugin for its version. The CLI
// tells a plugin nothing about itself but its own path (metadata.ReexecEnvvar, set when
// it runs a plugin; neither the plugin metadata exchange nor a hook's hooks.Request carries
// a version), so docker-maim runs `<that path> --version`, which the CLI answers without
// the engine. Run standalone, it asks the `docker` on PATH. Unknown when that fails.
func DockerCLIVersion(ctx context.Context) Version {
	bin := os.Getenv(metadata.ReexecEnvvar)
	if bin == "" {
		bin = "docker"
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return Version{}
	}
	return ParseDockerVersion(string(out))
}

// Settings are the plugins.maim hooks for a docker CLI version: on 29.3+ the pull hint
// after every `compose pull` and the rollback hint after a failed `compose up` only
// (error-hooks). Before 29.3 a failed `compose up` runs no hook at all, so only pull is
// registered. On an unknown version, both go under "hooks", which is right on either: a
// newer CLI then asks after every `up` and docker-maim answers only a failed one.
func Settings(v Version) (hooks, errorHooks string) {
	switch {
	case v.atLeast(29, 3):
		return hookPull, hookUp
	case v.known:
		return hookPull, ""
	}
	return hookPull + "," + hookUp, ""
}

// Describe says, for the command's output, what the CLI will ask docker-maim after.
func Describe(v Version) string {
	hooks, errorHooks := Settings(v)
	s := "hints after `docker " + strings.ReplaceAll(hooks, ",", "`, `docker ") + "`"
	if errorHooks != "" {
		s += " and a failed `docker " + errorHooks + "`"
	}
	switch {
	case !v.known:
		return s + " (the docker CLI's version is unknown)"
	case errorHooks == "":
		return s + " (docker CLI " + v.text + "; a failed `docker compose up` gets a hint from docker CLI 29.3 on)"
	}
	return s + " (docker CLI " + v.text + ")"
}

// Enable registers docker-maim's hooks in the config file dir/config.json for the
// CLI version v, turning features.hooks on, and records what features.hooks was before
// (only the first time: enabling again keeps the first record).
func Enable(dir string, v Version) error {
	return editConfig(dir, func(cfg *configfile.ConfigFile, existed bool) bool {
		if cfg.Plugins == nil {
			cfg.Plugins = map[string]map[string]string{}
		}
		own := cfg.Plugins[pluginSection]
		if own == nil {
			own = map[string]string{}
			cfg.Plugins[pluginSection] = own
		}
		if _, ok := own[hooksBeforeKey]; !ok {
			before := hooksBeforeUnset
			if val, ok := cfg.Features[hooksFeature]; ok {
				before = hooksBeforeSetPfx + val
			}
			own[hooksBeforeKey] = before
			if !existed {
				own[createdKey] = "true"
			}
		}
		hooks, errorHooks := Settings(v)
		own[hooksKey] = hooks
		delete(own, errorHooksKey)
		if errorHooks != "" {
			own[errorHooksKey] = errorHooks
		}
		if cfg.Features == nil {
			cfg.Features = map[string]string{}
		}
		cfg.Features[hooksFeature] = "true"
		return false
	})
}

// Disable removes what Enable added to dir/config.json and puts features.hooks
// back as it was before: removed if it was not there, its old value if it was. A
// features.hooks the user changed since (anything but the "true" docker-maim set) is the
// user's and stays. Without docker-maim's record, features.hooks is left alone: docker-maim
// cannot tell who turned it on. A config.json hooks enable created is removed when nothing
// else is left in it.
func Disable(dir string) error {
	return editConfig(dir, func(cfg *configfile.ConfigFile, _ bool) bool {
		own := cfg.Plugins[pluginSection]
		before, recorded := own[hooksBeforeKey]
		created := own[createdKey] == "true"
		for _, k := range []string{hooksKey, errorHooksKey, hooksBeforeKey, createdKey} {
			delete(own, k)
		}
		if own != nil && len(own) == 0 {
			delete(cfg.Plugins, pluginSection)
		}
		if !recorded || cfg.Features[hooksFeature] != "true" {
			return created
		}
		if val, ok := strings.CutPrefix(before, hooksBeforeSetPfx); ok {
			cfg.Features[hooksFeature] = val
		} else {
			delete(cfg.Features, hooksFeature)
		}
		return created
	})
}

// editConfig loads the docker CLI's config.json in dir with the CLI's own package
// (github.com/docker/cli/cli/config), lets edit change it, and saves it when it changed.
// A symlinked config.json stays a symlink: the file it points to is written, as the docker
// CLI writes it (configfile.Save). The top-level members the CLI's ConfigFile does not know
// (which the CLI itself drops when it saves, e.g. on docker login) are kept. When edit
// returns true and the file is left as an empty configuration, a config.json that is not a
// symlink is removed instead.
func editConfig(dir string, edit func(cfg *configfile.ConfigFile, existed bool) (remove bool)) error {
	cfg, err := config.Load(dir)
	if err != nil {
		return err
	}
	_, statErr := os.Stat(cfg.Filename)
	extra, err := unknownMembers(cfg.Filename)
	if err != nil {
		return err
	}
	before, err := encodeConfig(cfg, extra)
	if err != nil {
		return err
	}
	remove := edit(cfg, statErr == nil)
	after, err := encodeConfig(cfg, extra)
	if err != nil {
		return err
	}
	if remove {
		empty, _ := encodeConfig(configfile.New(cfg.Filename), nil)
		if fi, err := os.Lstat(cfg.Filename); err == nil && fi.Mode().IsRegular() && bytes.Equal(after, empty) {
			return os.Remove(cfg.Filename)
		}
	}
	switch {
	case bytes.Equal(before, after):
		return nil
	case len(extra) == 0:
		return cfg.Save()
	}
	return writeThroughSymlink(cfg.Filename, after)
}

// unknownMembers are the top-level members of the config file that configfile.ConfigFile
// has no field for; none when the file does not exist.
func unknownMembers(file string) (map[string]json.RawMessage, error) {
	b, err := os.ReadFile(file)
	if os.IsNotExist(err) || err == nil && len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	t := reflect.TypeFor[configfile.ConfigFile]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		for k := range all {
			if strings.EqualFold(k, name) { // encoding/json matches names case-insensitively
				delete(all, k)
			}
		}
	}
	return all, nil
}

// encodeConfig is the file's content as the docker CLI writes it (SaveToWriter), with the
// unknown members after the known ones, in name order.
func encodeConfig(cfg *configfile.ConfigFile, extra map[string]json.RawMessage) ([]byte, error) {
	var b bytes.Buffer
	if err := cfg.SaveToWriter(&b); err != nil {
		return nil, err
	}
	if len(extra) == 0 {
		return b.Bytes(), nil
	}
	// SaveToWriter's object always has a member ("auths" has no omitempty) and ends "\n}".
	out, ok := bytes.CutSuffix(bytes.TrimRight(b.Bytes(), "\n"), []byte("\n}"))
	if !ok {
		return nil, fmt.Errorf("unexpected encoding of the docker CLI config: %.40q", b.String())
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		name, _ := json.Marshal(k)
		var val bytes.Buffer
		if err := json.Indent(&val, extra[k], "\t", "\t"); err != nil {
			return nil, err
		}
		out = append(append(append(append(out, ",\n\t"...), name...), ": "...), val.Bytes()...)
	}
	return append(out, "\n}"...), nil
}

// writeThroughSymlink writes data to file the way configfile.Save does: into the file a
// symlink points to (a dangling one included), through a temporary file renamed over it,
// keeping the old file's mode.
func writeThroughSymlink(file string, data []byte) error {
	target := file
	if t, err := filepath.EvalSymlinks(file); err == nil {
		target = t
	} else if pe, ok := err.(*os.PathError); ok && os.IsNotExist(err) {
		target = pe.Path
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), filepath.Base(target))
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if fi, err := os.Stat(target); err == nil {
		_ = os.Chmod(tmp.Name(), fi.Mode().Perm())
	}
	return os.Rename(tmp.Name(), target)
}

// HintTemplate joins hint lines into a hook answer's template of at most MaxHintLines
// lines (a line holding breaks counts as the lines it makes); the rest is dropped.
func HintTemplate(hints []string) string {
	lines := strings.Split(strings.Join(hints, "\n"), "\n")
	return strings.Join(lines[:min(len(lines), MaxHintLines)], "\n")
}
