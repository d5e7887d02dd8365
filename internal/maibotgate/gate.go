// Package maibotgate owns MaiBot's health gate and MaiBot's glue under an upgrade, between
// its facts (internal/maibot), the images (internal/templates) and the gate
// (internal/health): the ready rule every gate of a MaiBot project gets (upgrade, rollback,
// restore), and the adoption's checks (an unconfirmed 0.x -> 1.x move refused, lost
// agreement hashes a warning) and the versions a backup records (adopt.go), so the
// operations hold no MaiBot knowledge of their own.
package maibotgate

import (
	"context"
	"errors"
	"slices"

	"github.com/docker-maim/docker-maim/internal/stack"

	"github.com/docker-maim/docker-maim/internal/backup"
	"github.com/docker-maim/docker-maim/internal/config"
	"github.com/docker-maim/docker-maim/internal/health"
	"github.com/docker-maim/docker-maim/internal/maibot"
	"github.com/docker-maim/docker-maim/internal/project"
	"github.com/docker-maim/docker-maim/internal/templates"
)

// MaiBot's health gate (facts: internal/maibot), for every gate of a MaiBot project whose
// core service is gated (upgrade, rollback, restore, an adoption's new core alike): when the
// compose file declares no healthcheck for the core and no x-maim ready_log, the core must
// log its ready banner, and while it has not, new log output (the bot migrating its database
// before the banner) extends the wait (health.ReadyRule.WhileLogging).
//
// The banner is the one the core will print: the template of its image's own catalog
// (maibot.CatalogPath under the image's working directory), for the locale the service's
// environment (compose environment and env_file, as loaded) or else the image's ENV sets.
// That is exact as long as the bot formats the key from that catalog, as MaiBot 1.x does.
// When the image has no such catalog (0.x, a locale it does not ship) or it cannot be read,
// the gate takes any of maibot.KnownBanners.

// ReadyRules returns h with MaiBot's ready rule for p's core service when services
// includes it and it qualifies (see above); dbSchema is the database's user_version before
// the new image ran (-1 unknown), named in the progress when the log says it migrates. A
// rule already in h (set by an earlier call) is kept.
func ReadyRules(ctx context.Context, eng stack.Engine, logf func(string, ...any), p *project.Project, services []string, h health.Options, dbSchema int32) health.Options {
	core, ok := GatedCore(p)
	if !ok || !slices.Contains(services, core) || h.ReadyLog[core] != "" {
		return h
	}
	if _, set := h.Ready[core]; set {
		return h
	}
	s := p.Services[core]
	var imageEnv []string
	workDir := ""
	if ii, err := eng.ImageInspect(ctx, s.Image); err == nil && ii.Config != nil {
		imageEnv, workDir = ii.Config.Env, ii.Config.WorkingDir
	}
	locale := maibot.Locale(project.EnvMap(s.Environment), imageEnv)
	catalog := maibot.CatalogPath(workDir, locale)
	tmpl := ""
	data, err := templates.FromImage(ctx, eng, s.Image, catalog)
	switch {
	case err == nil:
		if tmpl, err = maibot.BannerFromCatalog(data); err != nil {
			logf("health gate: %s: %v", core, err)
		}
	case !errors.Is(err, config.ErrTemplateNotFound):
		logf("health gate: %s: %v", core, err)
	}
	match, what := maibot.ReadyMatch(tmpl, locale, catalog)
	rules := map[string]health.ReadyRule{}
	for k, v := range h.Ready {
		rules[k] = v
	}
	rules[core] = health.ReadyRule{
		Match:          match,
		What:           what,
		WhileLogging:   true,
		Migrating:      maibot.LooksLikeMigration,
		MigratingState: maibot.MigrationState(dbSchema),
	}
	h.Ready = rules
	logf("health gate: %s waits for %s; while it has not, new log output extends the wait (up to %s)", core, what, MigrationCap(h))
	if h.Progress == nil {
		h.Progress = func(service, state string) {
			if service == core {
				logf("health gate: %s: %s", service, state)
			}
		}
	}
	return h
}

// GatedCore is p's MaiBot core service when MaiBot's gate applies to it: p is a MaiBot
// project, and its compose file declares neither a healthcheck (one that is not disabled)
// nor an x-maim ready_log for the core.
func GatedCore(p *project.Project) (string, bool) {
	d := maibot.Detect(Services(p))
	if !d.MaiBot {
		return "", false
	}
	s := p.Services[d.Core]
	if s.HealthCheck != nil && !s.HealthCheck.Disable {
		return "", false
	}
	if hasReadyLog(p, d.Core) {
		return "", false
	}
	return d.Core, true
}

// MigrationCap is how long new log output may extend the gate's wait.
func MigrationCap(h health.Options) string {
	if h.MigrationTimeout > 0 {
		return h.MigrationTimeout.String()
	}
	return health.DefaultMigrationTimeout.String()
}

// RecordedSchema is the database schema a backup recorded (-1 when it did not).
func RecordedSchema(man *backup.Manifest) int32 {
	if man == nil {
		return -1
	}
	return maibot.RecordedSchema(man.AppVersions)
}

// Services are p's services as internal/maibot describes them (image, environment,
// mounts), for its detection.
func Services(p *project.Project) []maibot.Service {
	var out []maibot.Service
	for name, s := range p.Services {
		ms := maibot.Service{Name: name, Image: s.Image, Env: project.EnvMap(s.Environment)}
		for _, v := range s.Volumes {
			ms.Mounts = append(ms.Mounts, maibot.Mount{Source: v.Source, Target: v.Target})
		}
		out = append(out, ms)
	}
	return out
}

// hasReadyLog tells whether service svc of p declares an x-maim ready_log.
func hasReadyLog(p *project.Project, svc string) bool {
	ext, err := health.ParseExtension(p.Services[svc].Extensions)
	return err == nil && ext.ReadyLog != ""
}
