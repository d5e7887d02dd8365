package maibot

import (
	"path"
	"path/filepath"

	"github.com/docker-maim/docker-maim/internal/config"
)

// Config templates (0.6 – 0.12): the image ships them under TemplateDir; docker-maim merges
// the user's files into them (internal/config). 1.x images ship none (HasTemplates).
const (
	// TemplateDir is the container path of the templates in a 0.6 – 0.12 image.
	TemplateDir = "/MaiMBot/template"
	// BotConfigTemplate, ModelConfigTemplate and EnvTemplate are the templates of
	// BotConfig, ModelConfig and the .env file (model_config's from 0.10).
	BotConfigTemplate   = "bot_config_template.toml"
	ModelConfigTemplate = "model_config_template.toml"
	EnvTemplate         = "template.env"
	// VersionKey is the version key of every MaiBot TOML config ([inner].version): its value
	// always comes from the template, so the bot does not migrate the file again.
	VersionKey = "inner.version"
)

// TemplatePlans plans the config merges for MaiBot 0.6 – 0.12 core services: a service that
// bind-mounts a host directory at ConfigDir gets BotConfig and ModelConfig merged from
// BotConfigTemplate and ModelConfigTemplate in TemplateDir of its image (version key
// VersionKey), and the host file bound at EnvFilePath, if any, from EnvTemplate. Each
// service's Image is the image of the version being installed, and a mount's Source the
// host path (absolute). The plans are Optional: a release without a template (model_config
// before 0.10) is skipped.
func TemplatePlans(services []Service) []config.Plan {
	var plans []config.Plan
	for _, s := range services {
		var cfgDir, envFile string
		for _, m := range s.Mounts {
			switch path.Clean(m.Target) {
			case ConfigDir:
				cfgDir = m.Source
			case EnvFilePath:
				envFile = m.Source
			}
		}
		if cfgDir == "" {
			continue
		}
		add := func(file, tmpl string, f config.Format, vk string) {
			plans = append(plans, config.Plan{
				File: file, Service: s.Name, Format: f, VersionKey: vk, Optional: true, Origin: "maibot",
				Template: config.TemplateSource{Service: s.Name, Image: s.Image, Path: path.Join(TemplateDir, tmpl)},
				Action:   config.ActionFor(file),
			})
		}
		add(filepath.Join(cfgDir, BotConfig), BotConfigTemplate, config.TOML, VersionKey)
		add(filepath.Join(cfgDir, ModelConfig), ModelConfigTemplate, config.TOML, VersionKey)
		if envFile != "" {
			add(envFile, EnvTemplate, config.Dotenv, "")
		}
	}
	return plans
}
