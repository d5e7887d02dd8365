package maibot

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
)

// The ready banner. MaiBot 1.x logs t("startup.initialization_completed_banner",
// nickname=...) once every part has started (MainSystem.initialize in src/main.py), after the
// database migrations. t looks the key up in the JSON catalogs under locales/<locale>/ of the
// bot's working directory (/MaiMBot in the project's image), for the locale MAIBOT_LOCALE
// names (zh-CN when unset). A catalog is one flat JSON object per file (startup.json for
// startup.*) whose values are templates with {placeholders}, or plural maps whose "other"
// entry is the template. 0.x logged the zh-CN text from src/main.py itself, without the space
// before 已.
const (
	// LocaleVar names the bot's locale.
	LocaleVar = "MAIBOT_LOCALE"
	// DefaultLocale is the locale of a bot whose environment sets no LocaleVar.
	DefaultLocale = "zh-CN"
	// BannerKey is the catalog key of the ready banner.
	BannerKey = "startup.initialization_completed_banner"
	// WorkDir is the bot's working directory in the project's image (its WORKDIR): the
	// catalogs are under WorkDir/locales.
	WorkDir = "/MaiMBot"
)

// The banners of the releases this package knows, as catalog templates. Only zh-CN and
// en-US are known word for word (locales/zh-CN/startup.json of Mai-with-u/MaiBot, and the
// en-US text of the project's facts). MaiBot ships ja-JP and ko catalogs too, whose words
// are not known here: a bot in those locales is recognised by its image's own catalog
// (CatalogPath), and, when that cannot be read, not at all by KnownBanners.
var KnownBanners = []string{
	"全部系统初始化完成，{nickname} 已成功唤醒",                                          // 1.x zh-CN
	"全部系统初始化完成，{nickname}已成功唤醒",                                           // 0.x (src/main.py)
	"All systems initialized. {nickname} has been awakened successfully.", // 1.x en-US
}

// Locale is the locale a MaiBot core runs in: LocaleVar of the service's environment (the
// compose file's environment and env_file, resolved), else of the image's ENV (KEY=VALUE
// entries, the last one wins as in the engine), else DefaultLocale. An underscore is taken as
// a hyphen (en_US is en-US); other spellings are used as written.
func Locale(serviceEnv map[string]string, imageEnv []string) string {
	v, ok := serviceEnv[LocaleVar]
	if !ok {
		for _, kv := range imageEnv {
			if k, val, found := strings.Cut(kv, "="); found && k == LocaleVar {
				v, ok = val, true
			}
		}
	}
	v = strings.ReplaceAll(strings.TrimSpace(v), "_", "-")
	if !ok || v == "" {
		return DefaultLocale
	}
	return v
}

// CatalogPath is the startup catalog of locale inside an image whose working directory is
// workDir (WorkDir when the image names none).
func CatalogPath(workDir, locale string) string {
	if workDir == "" {
		workDir = WorkDir
	}
	return path.Join("/", workDir, "locales", path.Clean("/" + locale)[1:], "startup.json")
}

// BannerFromCatalog returns the ready banner's template in a startup catalog ("" and no
// error when the catalog has no such key). The key is looked up as written (the catalogs
// are flat) and, for a nested catalog, under "startup" -> "initialization_completed_banner".
func BannerFromCatalog(data []byte) (string, error) {
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return "", fmt.Errorf("maibot catalog: %w", err)
	}
	v, ok := doc[BannerKey]
	if !ok {
		if sub, isMap := doc["startup"].(map[string]any); isMap {
			v, ok = sub[strings.TrimPrefix(BannerKey, "startup.")]
		}
	}
	if !ok {
		return "", nil
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case map[string]any: // a plural node: t() takes "other"
		if s, ok := v["other"].(string); ok {
			return s, nil
		}
	}
	return "", fmt.Errorf("maibot catalog: %s is not a text", BannerKey)
}

// Banner is a banner template's fixed parts, in order: what every line the template can
// produce contains, whatever the {placeholders} (the nickname) become.
type Banner struct {
	Template string
	Parts    []string
}

// ParseBanner splits a catalog template at its {placeholders} ({{ and }} are literal
// braces). Each fixed part is trimmed of surrounding white space, so a release that adds or
// drops the space next to the nickname (0.x and 1.x zh-CN) still matches; empty parts are
// dropped. A template that is nothing but placeholders has no parts and matches nothing.
func ParseBanner(tmpl string) Banner {
	b := Banner{Template: tmpl}
	var cur strings.Builder
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			b.Parts = append(b.Parts, s)
		}
		cur.Reset()
	}
	for i := 0; i < len(tmpl); i++ {
		switch {
		case strings.HasPrefix(tmpl[i:], "{{"):
			cur.WriteByte('{')
			i++
		case strings.HasPrefix(tmpl[i:], "}}"):
			cur.WriteByte('}')
			i++
		case tmpl[i] == '{':
			if j := strings.IndexByte(tmpl[i:], '}'); j > 0 {
				flush()
				i += j
				continue
			}
			cur.WriteByte('{')
		default:
			cur.WriteByte(tmpl[i])
		}
	}
	flush()
	return b
}

// Match tells whether line holds every fixed part of the banner, in order and without
// overlap (the logger's prefix, time and level around it do not matter).
func (b Banner) Match(line string) bool {
	if len(b.Parts) == 0 {
		return false
	}
	for _, p := range b.Parts {
		i := strings.Index(line, p)
		if i < 0 {
			return false
		}
		line = line[i+len(p):]
	}
	return true
}

// ReadyBanners are the banners a core's gate waits for (any one of them): the template of
// its image's catalog when there is one, else every KnownBanners entry.
func ReadyBanners(catalogTemplate string) []Banner {
	if b := ParseBanner(catalogTemplate); len(b.Parts) > 0 {
		return []Banner{b}
	}
	out := make([]Banner, 0, len(KnownBanners))
	for _, t := range KnownBanners {
		out = append(out, ParseBanner(t))
	}
	return out
}

// migrationMarks are the words for a migration in English and Chinese, compared case
// insensitively: "migrat" (migrate, migration, migrating) and 迁移. They are not read from
// MaiBot's catalogs: a migration message worded otherwise (another language, another word)
// is still progress for the gate (any new output extends its wait), it is only not named a
// migration in the progress.
var migrationMarks = []string{"migrat", "迁移"}

// LooksLikeMigration tells whether a log line says the bot is migrating (migrationMarks).
func LooksLikeMigration(line string) bool {
	l := strings.ToLower(line)
	for _, m := range migrationMarks {
		if strings.Contains(l, m) {
			return true
		}
	}
	return false
}

// MigrationState is the gate's progress text for a core whose log says it migrates: the
// schema before (PRAGMA user_version of the database the upgrade found, -1 when unknown)
// and the new release's ("newer": no image says which schema it brings).
func MigrationState(from int32) string {
	if from < 0 {
		return "migrating the database"
	}
	return fmt.Sprintf("migrating the database (schema %d -> newer)", from)
}

// ReadyMatch is how a gate recognises the core's ready banner: the banner of tmpl, the
// template read from the image's catalog (CatalogPath) for locale ("" when none was read),
// else any of KnownBanners. what describes the banner waited for, for the progress.
func ReadyMatch(tmpl, locale, catalog string) (match func(line string) bool, what string) {
	banners := ReadyBanners(tmpl)
	what = fmt.Sprintf("the ready banner %q (%s, %s in its image)", tmpl, locale, catalog)
	if len(banners) != 1 || banners[0].Template != tmpl {
		what = fmt.Sprintf("one of MaiBot's known ready banners (no %s banner in %s of its image)", locale, catalog)
	}
	match = func(line string) bool {
		for _, b := range banners {
			if b.Match(line) {
				return true
			}
		}
		return false
	}
	return match, what
}
