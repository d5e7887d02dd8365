// Package maibot owns what docker-maim knows about MaiBot (麦麦) itself, as listed in the
// project's facts file, so that the rooms using it hold only the glue:
//   - recognising a MaiBot project, its core service and its era (0.x with the adapters
//     service, or 1.x) from a compose file and its images (Detect, ServicesFromCompose),
//     and the services a 1.x release is known to have dropped (KnownRemoved);
//   - its versions: the SQLite schema version of MaiBot.db from a stream (the header's
//     user_version, no SQLite library), the [inner].version of its TOML configs, both read
//     from the host with care while the bot is stopped (probe.go, ReadVersions), and the
//     keys a backup records them under (versions.go);
//   - the move between eras: the 0.x -> 1.x confirmation variable (CheckMove) and the
//     EULA/privacy agreement variables to carry;
//   - its config templates (0.6 – 0.12): where the image ships them, the plans that merge
//     the user's files into them and the version key (templates.go);
//   - the health-gate preset for a version, and the ready banner of its i18n catalog and how
//     a gate matches it (banner.go).
//
// It reads bytes, values and host files handed to it; it does not touch the engine or the
// upgrade transaction (internal/upgrade calls it, internal/templates reads an image's files).
package maibot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/docker-maim/docker-maim/internal/composemerge"
	"github.com/pelletier/go-toml/v2"
	yaml "go.yaml.in/yaml/v3"
)

// The database.
const (
	// DatabaseFile is MaiBot's SQLite database (0.7+), in the data dir: host
	// ./data/MaiMBot/MaiBot.db, container /MaiMBot/data/MaiBot.db.
	DatabaseFile = "MaiBot.db"
	// DataDir is the container path of the data dir.
	DataDir = "/MaiMBot/data"
	// SQLiteMagic opens every SQLite 3 database file.
	SQLiteMagic = "SQLite format 3\x00"
	// HeaderSize is the size of the SQLite database header.
	HeaderSize = 100
	// userVersionOffset is where PRAGMA user_version lives in the header (4 bytes, big-endian).
	userVersionOffset = 60
)

// ErrNotSQLite is returned for a stream that does not start with an SQLite 3 header.
var ErrNotSQLite = errors.New("not an SQLite 3 database")

// SchemaVersion reads PRAGMA user_version from the start of an SQLite database stream (the
// header's bytes 60..63, big-endian; MaiBot 1.x keeps its schema version there: 26 at 1.0.0,
// 40 at 1.2.x; 0.x leaves it 0). It reads exactly HeaderSize bytes of r. A stream shorter
// than the header or without the magic is ErrNotSQLite.
func SchemaVersion(r io.Reader) (int32, error) {
	var h [HeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, fmt.Errorf("%w: shorter than the %d-byte header", ErrNotSQLite, HeaderSize)
		}
		return 0, err
	}
	if !bytes.Equal(h[:len(SQLiteMagic)], []byte(SQLiteMagic)) {
		return 0, ErrNotSQLite
	}
	return int32(binary.BigEndian.Uint32(h[userVersionOffset : userVersionOffset+4])), nil
}

// Config files.
const (
	// ConfigDir is the container path of the config dir (bot_config.toml, model_config.toml, .env).
	ConfigDir = "/MaiMBot/config"
	// BotConfig and ModelConfig are the bot's TOML configs (model_config.toml from 0.10).
	BotConfig   = "bot_config.toml"
	ModelConfig = "model_config.toml"
	// AdapterConfigPath is the adapter's config in the 0.x adapters container (a single-file bind).
	AdapterConfigPath = "/adapters/config.toml"
	// EnvFilePath is the 0.x single-file bind of the bot's .env (gone in 1.x: the config dir holds it).
	EnvFilePath = "/MaiMBot/.env"
)

// ConfigFiles are the TOML configs of the config dir whose [inner].version is recorded.
var ConfigFiles = []string{BotConfig, ModelConfig}

// InnerVersion reads [inner].version of a MaiBot TOML config (bot_config.toml,
// model_config.toml, the adapter's config.toml). A file without it is "" and no error.
func InnerVersion(data []byte) (string, error) {
	var doc struct {
		Inner struct {
			Version any `toml:"version"`
		} `toml:"inner"`
	}
	if err := toml.Unmarshal(data, &doc); err != nil {
		return "", fmt.Errorf("maibot config: %w", err)
	}
	switch v := doc.Inner.Version.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return fmt.Sprint(v), nil
	}
}

// The 0.x -> 1.x move.
const (
	// LegacyUpgradeVar must be set (to 1) in the core service's environment for a 1.x bot to
	// take over a 0.x database and config; without it the bot refuses to start.
	LegacyUpgradeVar = "MAIBOT_LEGACY_0X_UPGRADE_CONFIRMED"
	// EULAVar and PrivacyVar carry the md5 of EULA.md / PRIVACY.md the user agreed to; a
	// mismatch with the image's text makes the bot ask on stdin (a restart loop in a container).
	EULAVar    = "EULA_AGREE"
	PrivacyVar = "PRIVACY_AGREE"
)

// AgreementVars are the environment variables of the core service a compose-file swap must carry.
var AgreementVars = []string{EULAVar, PrivacyVar}

// Major is the major number of a version ("v1.2.1" is 1, "0.12.3" is 0); ok is false when the
// version does not start with a number (latest, dev, a digest).
func Major(version string) (int, bool) {
	v := strings.TrimPrefix(strings.TrimPrefix(version, "v"), "V")
	if i := strings.IndexAny(v, ".-+"); i >= 0 {
		v = v[:i]
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// CrossesLegacy tells whether moving from version from to version to is the 0.x -> 1.x move
// that needs LegacyUpgradeVar. Unknown versions are false.
func CrossesLegacy(from, to string) bool {
	f, ok1 := Major(from)
	t, ok2 := Major(to)
	return ok1 && ok2 && f == 0 && t >= 1
}

// ErrNotConfirmed is returned by CheckConfirmation.
var ErrNotConfirmed = errors.New("the 0.x -> 1.x move is not confirmed")

// CheckConfirmation checks that a 1.x core service's environment confirms the move from 0.x
// (LegacyUpgradeVar set to 1, true or yes).
func CheckConfirmation(env map[string]string) error {
	v, ok := env[LegacyUpgradeVar]
	if !ok {
		return fmt.Errorf("%w: the core service has no %s=1", ErrNotConfirmed, LegacyUpgradeVar)
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes":
		return nil
	}
	return fmt.Errorf("%w: %s=%q (want 1)", ErrNotConfirmed, LegacyUpgradeVar, v)
}

// MissingAgreements lists the agreement variables the user's core environment set that the new
// one does not (an old file's EULA/privacy hashes a merged file would lose).
func MissingAgreements(userEnv, newEnv map[string]string) []string {
	var out []string
	for _, k := range AgreementVars {
		if v, ok := userEnv[k]; ok && v != "" {
			if nv, ok := newEnv[k]; !ok || nv == "" {
				out = append(out, k)
			}
		}
	}
	return out
}

// HasTemplates tells whether a MaiBot image of this version ships config templates under
// /MaiMBot/template (0.6 - 0.12): docker-maim's template merge applies only then. 1.x images
// generate their config from code and migrate it themselves. Unknown versions (latest) are
// true: the merge plans are optional and skip a missing template.
func HasTemplates(version string) bool {
	n, ok := Major(version)
	return !ok || n == 0
}

// Preset is the health gate for a MaiBot core service whose compose file declares none.
type Preset struct {
	// ReadyLog is a substring of the log line the bot prints once every part has started.
	ReadyLog string `json:"ready_log"`
	// WebUIPort is the container port of the WebUI (1.x), 0 when the version has none; the
	// gate may also wait for it to answer HTTP on WebUIPath.
	WebUIPort int    `json:"webui_port,omitempty"`
	WebUIPath string `json:"webui_path,omitempty"`
}

// ReadyLog is the start of the zh-CN ready banner: 0.x's src/main.py logs
// "全部系统初始化完成，{nickname}已成功唤醒" after _init_components has finished (the
// database, plugins, chat manager; since 0.8), 1.x the same words with a space before 已 from
// its zh-CN catalog. Other locales and reworded releases log other words: the gate reads the
// banner from the image's catalog (banner.go); this prefix only names it in the plan.
const ReadyLog = "全部系统初始化完成"

// WebUIPort is the 1.x WebUI's container port (the release's compose file publishes 18001:8001;
// its WebUI server is a FastAPI app on 0.0.0.0:8001, bound to WEBUI_HOST).
const WebUIPort = 8001

// HealthPreset returns the health gate preset for a MaiBot version: the ready log line for
// every version, and the WebUI (port 8001, "/") from 1.0 on. An unknown version ("latest")
// gets the log line only, which every release prints.
func HealthPreset(version string) Preset {
	p := Preset{ReadyLog: ReadyLog}
	if n, ok := Major(version); ok && n >= 1 {
		p.WebUIPort, p.WebUIPath = WebUIPort, "/"
	}
	return p
}

// Eras.
const (
	Era0x = "0.x" // adapters + core (+ napcat, sqlite-web), .env file bind, templates in the image
	Era1x = "1.x" // core (+ napcat, sqlite-web), the adapter a plugin, schema in user_version
)

// Mount is a bind or volume of a service: host (or volume) source and container target.
type Mount struct{ Source, Target string }

// Service is what detection reads of a compose service (values as written; no interpolation).
type Service struct {
	Name   string
	Image  string
	Env    map[string]string
	Mounts []Mount
}

// Detection is what Detect found.
type Detection struct {
	MaiBot   bool     `json:"maibot"`
	Era      string   `json:"era,omitempty"`      // Era0x, Era1x, or "" when it cannot tell
	Core     string   `json:"core,omitempty"`     // the bot's service
	Adapters string   `json:"adapters,omitempty"` // the 0.x adapter's service
	Others   []string `json:"others,omitempty"`   // napcat, sqlite-web, the user's own
	Reasons  []string `json:"reasons,omitempty"`  // why: the marks found
}

// imageName is an image reference without tag or digest, lower-cased.
func imageName(ref string) string {
	ref = strings.ToLower(ref)
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	return ref
}

func imageTag(ref string) string {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		return ref[i+1:]
	}
	return ""
}

// isCoreImage: sengokucola/maibot, infinitycat/maibot, a mirror's .../maibot.
func isCoreImage(ref string) bool {
	n := imageName(ref)
	base := path.Base(n)
	return base == "maibot" || base == "maimbot"
}

func isAdapterImage(ref string) bool {
	return strings.Contains(path.Base(imageName(ref)), "maimbot-adapter") ||
		strings.Contains(path.Base(imageName(ref)), "maibot-adapter")
}

func hasTarget(s Service, target string) bool {
	for _, m := range s.Mounts {
		if path.Clean(m.Target) == target {
			return true
		}
	}
	return false
}

// Detect recognises a MaiBot project from its services: the core service by its image
// (.../maibot, .../maimbot) or a mount at /MaiMBot/config or /MaiMBot/data with a MaiBot
// mark; the 0.x adapter by its image (.../maimbot-adapter) or its /adapters/config.toml bind.
// The era is 1.x when the core's environment has LegacyUpgradeVar or WEBUI_HOST, it mounts
// /MaiMBot/depends-data or /data/emoji, or its image tag's major is >= 1; 0.x when an
// adapters service exists, the core binds /MaiMBot/.env, or its tag is 0.x.
func Detect(services []Service) Detection {
	var d Detection
	sort.Slice(services, func(i, j int) bool { return services[i].Name < services[j].Name })
	for _, s := range services {
		switch {
		case d.Core == "" && isCoreImage(s.Image):
			d.Core = s.Name
			d.Reasons = append(d.Reasons, fmt.Sprintf("service %s runs %s", s.Name, imageName(s.Image)))
		case d.Core == "" && hasTarget(s, ConfigDir) && hasTarget(s, DataDir):
			d.Core = s.Name
			d.Reasons = append(d.Reasons, fmt.Sprintf("service %s mounts %s and %s", s.Name, ConfigDir, DataDir))
		case d.Adapters == "" && (isAdapterImage(s.Image) || hasTarget(s, AdapterConfigPath)):
			d.Adapters = s.Name
			d.Reasons = append(d.Reasons, fmt.Sprintf("service %s is the 0.x adapter", s.Name))
		default:
			d.Others = append(d.Others, s.Name)
		}
	}
	if d.Core == "" {
		return Detection{}
	}
	d.MaiBot = true
	var core Service
	for _, s := range services {
		if s.Name == d.Core {
			core = s
		}
	}
	_, confirmed := core.Env[LegacyUpgradeVar]
	_, webui := core.Env["WEBUI_HOST"]
	major, tagged := Major(imageTag(core.Image))
	switch {
	case confirmed || webui || hasTarget(core, "/MaiMBot/depends-data") || hasTarget(core, "/data/emoji"):
		d.Era = Era1x
	case d.Adapters != "" || hasTarget(core, EnvFilePath):
		d.Era = Era0x
	case tagged && major >= 1:
		d.Era = Era1x
	case tagged:
		d.Era = Era0x
	}
	if d.Era != "" {
		d.Reasons = append(d.Reasons, "era "+d.Era)
	}
	return d
}

// ServicesFromCompose reads the services of a compose file (as written: ${VAR}s are not
// interpolated) for Detect: image, environment (list or map form) and short or long volumes.
func ServicesFromCompose(data []byte) ([]Service, error) {
	var doc struct {
		Services map[string]struct {
			Image       string    `yaml:"image"`
			Environment yaml.Node `yaml:"environment"`
			Volumes     []any     `yaml:"volumes"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("maibot: compose file: %w", err)
	}
	var out []Service
	for name, s := range doc.Services {
		svc := Service{Name: name, Image: s.Image, Env: map[string]string{}}
		switch s.Environment.Kind {
		case yaml.SequenceNode:
			for _, it := range s.Environment.Content {
				k, v, _ := strings.Cut(it.Value, "=")
				svc.Env[k] = v
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(s.Environment.Content); i += 2 {
				svc.Env[s.Environment.Content[i].Value] = s.Environment.Content[i+1].Value
			}
		}
		for _, v := range s.Volumes {
			switch v := v.(type) {
			case string:
				parts := composemerge.SplitColons(v)
				if len(parts) == 1 {
					svc.Mounts = append(svc.Mounts, Mount{Target: parts[0]})
				} else {
					svc.Mounts = append(svc.Mounts, Mount{Source: parts[0], Target: parts[1]})
				}
			case map[string]any:
				src, _ := v["source"].(string)
				tgt, _ := v["target"].(string)
				svc.Mounts = append(svc.Mounts, Mount{Source: src, Target: tgt})
			}
		}
		out = append(out, svc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// CheckMove applies the rule of a move between eras (from the user's project to the new
// one): 0.x -> 1.x needs the new core's environment to confirm it (CheckConfirmation), and
// confirmed says it did; any other move needs nothing. The error says what to add where.
func CheckMove(from, to Detection, newCoreEnv map[string]string) (confirmed bool, err error) {
	if from.Era != Era0x || to.Era != Era1x {
		return false, nil
	}
	if err := CheckConfirmation(newCoreEnv); err != nil {
		return false, fmt.Errorf("MaiBot 0.x -> 1.x: %v. Add `- %s=1` to the environment of service %s in the new compose file (the 1.x bot migrates the database and config forward in place; this upgrade's backup is the way back)", err, LegacyUpgradeVar, to.Core)
	}
	return true, nil
}

// KnownRemoved are the services of the user's compose file that the release's file is known
// to have dropped: the 0.x adapter service when the new file is MaiBot 1.x (the adapter is
// a plugin there). Files that do not parse give none (the compose merge reports the error).
func KnownRemoved(user, upstream []byte) []string {
	us, err1 := ServicesFromCompose(user)
	ns, err2 := ServicesFromCompose(upstream)
	if err1 != nil || err2 != nil {
		return nil
	}
	ud, nd := Detect(us), Detect(ns)
	if !ud.MaiBot || ud.Adapters == "" || nd.Era != Era1x {
		return nil
	}
	for _, s := range ns {
		if s.Name == ud.Adapters {
			return nil
		}
	}
	return []string{ud.Adapters}
}
