package upgrade

import (
	"context"
	"errors"
	"slices"

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

// maibotGateFor returns h with MaiBot's ready rule for p's core service when services
// includes it and it qualifies (see above); dbSchema is the database's user_version before
// the new image ran (-1 unknown), named in the progress when the log says it migrates. A
// rule already in h (set by an earlier call) is kept.
func (m *Manager) maibotGateFor(ctx context.Context, p *project.Project, services []string, h health.Options, dbSchema int32) health.Options {
	core, ok := maibotGatedCore(p)
	if !ok || !slices.Contains(services, core) || h.ReadyLog[core] != "" {
		return h
	}
	if _, set := h.Ready[core]; set {
		return h
	}
	s := p.Services[core]
	var imageEnv []string
	workDir := ""
	if ii, err := m.Engine.ImageInspect(ctx, s.Image); err == nil && ii.Config != nil {
		imageEnv, workDir = ii.Config.Env, ii.Config.WorkingDir
	}
	locale := maibot.Locale(envMap(s.Environment), imageEnv)
	catalog := maibot.CatalogPath(workDir, locale)
	tmpl := ""
	data, err := templates.FromImage(ctx, m.Engine, s.Image, catalog)
	switch {
	case err == nil:
		if tmpl, err = maibot.BannerFromCatalog(data); err != nil {
			m.logf("health gate: %s: %v", core, err)
		}
	case !errors.Is(err, config.ErrTemplateNotFound):
		m.logf("health gate: %s: %v", core, err)
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
	m.logf("health gate: %s waits for %s; while it has not, new log output extends the wait (up to %s)", core, what, migrationCap(h))
	if h.Progress == nil {
		h.Progress = func(service, state string) {
			if service == core {
				m.logf("health gate: %s: %s", service, state)
			}
		}
	}
	return h
}

// maibotGatedCore is p's MaiBot core service when MaiBot's gate applies to it: p is a MaiBot
// project, and its compose file declares neither a healthcheck (one that is not disabled)
// nor an x-maim ready_log for the core.
func maibotGatedCore(p *project.Project) (string, bool) {
	d := maibot.Detect(maibotServices(p))
	if !d.MaiBot {
		return "", false
	}
	s := p.Services[d.Core]
	if s.HealthCheck != nil && !s.HealthCheck.Disable {
		return "", false
	}
	if hasReadyLogExt(p, d.Core) {
		return "", false
	}
	return d.Core, true
}

func migrationCap(h health.Options) string {
	if h.MigrationTimeout > 0 {
		return h.MigrationTimeout.String()
	}
	return health.DefaultMigrationTimeout.String()
}

// recordedSchema is the database schema a backup recorded (-1 when it did not).
func recordedSchema(man *backup.Manifest) int32 {
	if man == nil {
		return -1
	}
	return maibot.RecordedSchema(man.AppVersions)
}
