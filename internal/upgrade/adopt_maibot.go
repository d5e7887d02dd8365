package upgrade

import (
	"context"
	"fmt"
	"path"

	"github.com/compose-spec/compose-go/v2/types"
	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/health"
	"github.com/docker-maim/docker-maim/internal/maibot"
	"github.com/docker-maim/docker-maim/internal/maibotgate"
	"github.com/docker-maim/docker-maim/internal/project"
)

// MaiBot under an upgrade (facts: internal/maibot). Detected from the loaded project (the
// core service by image or by its /MaiMBot/config and /MaiMBot/data mounts):
//   - an adoption that moves 0.x to 1.x is refused unless the core's environment in the
//     merged file (or its env files) confirms the move (maibot.LegacyUpgradeVar);
//   - agreement hashes the user had and the merged file lost are a warning;
//   - the database schema (MaiBot.db's user_version) and each config's [inner].version are
//     read after the stop, when the files are quiescent and byte for byte what the backup
//     archives, and recorded in the backup's manifest (AppVersions), shown by the plan,
//     `backups` and `status`.

// MaiBotMove is what the plan found of a MaiBot deployment.
type MaiBotMove = maim.MaiBotMove

// maibotServices are p's services as maibot.Detect reads them (interpolated).

// bindOf is the host source of service s's bind at container path target ("" for none).
func bindOf(s types.ServiceConfig, target string) string {
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && path.Clean(v.Target) == target {
			return v.Source
		}
	}
	return ""
}

// maibotVersions reads the database schema and the configs' [inner].version of p's core
// service from the host (nil when p is no MaiBot project), from the dirs it binds at
// maibot.DataDir and maibot.ConfigDir: maibot.ReadVersions, which reads them with care (this
// runs while the bot is stopped, over dirs its container can write).
func maibotVersions(p *project.Project) (core string, dbSchema int32, configs map[string]string, warnings []string) {
	d := maibot.Detect(maibotgate.Services(p))
	if !d.MaiBot {
		return "", -1, nil, nil
	}
	s := p.Services[d.Core]
	dbSchema, configs, warnings = maibot.ReadVersions(bindOf(s, maibot.DataDir), bindOf(s, maibot.ConfigDir))
	return d.Core, dbSchema, configs, warnings
}

// AppVersions is what a backup of p records in its manifest's AppVersions (nil: none), and
// the warnings of versions that could not be read. Status shows them as the project's
// application versions now.
func AppVersions(p *project.Project) (map[string]string, []string) {
	core, db, configs, warnings := maibotVersions(p)
	if core == "" {
		return nil, warnings
	}
	return maibot.AppVersions(db, configs), warnings
}

// checkAdoption checks a MaiBot adoption: refuses an unconfirmed 0.x -> 1.x move, warns
// about lost agreement hashes, and records what the plan shows.
func (m *Manager) checkAdoption(_ context.Context, p *project.Project, plan *Plan) error {
	ad := plan.adoption
	nd := maibot.Detect(maibotgate.Services(ad.newp))
	if !nd.MaiBot {
		return nil
	}
	od := maibot.Detect(maibotgate.Services(p))
	mb := &MaiBotMove{Core: nd.Core, FromEra: od.Era, ToEra: nd.Era}
	mb.DBSchema = -1
	if od.MaiBot {
		var warnings []string
		_, mb.DBSchema, mb.ConfigVersions, warnings = maibotVersions(p)
		plan.Warnings = append(plan.Warnings, warnings...)
	}
	ad.MaiBot = mb
	if svc, line := maibotReadyPreset(ad.newp); svc == nd.Core {
		mb.ReadyLog = line
	}
	newEnv := project.EnvMap(ad.newp.Services[nd.Core].Environment)
	if od.MaiBot {
		mb.LostAgreements = maibot.MissingAgreements(project.EnvMap(p.Services[od.Core].Environment), newEnv)
		for _, v := range mb.LostAgreements {
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("MaiBot: %s was set in your compose file and is not in the merged one: add it to service %s, or the bot asks on stdin and restarts forever", v, nd.Core))
		}
	}
	for _, c := range plan.Changes {
		if c.Service == nd.Core && !maibot.HasTemplates(versionOf(c)) {
			mb.NoTemplates = true
		}
	}
	confirmed, err := maibot.CheckMove(od, nd, newEnv)
	mb.Confirmed = confirmed
	return err
}

// versionOf is the new image's version: its version label, else its tag.
func versionOf(c ImageChange) string {
	if c.NewVersion != "" {
		return c.NewVersion
	}
	return tagVersion(c.NewRef)
}

// maibotReadyPreset is the health gate preset of a MaiBot project's core service whose
// compose file declares no healthcheck: the ready log line every release prints
// (maibot.HealthPreset). "" when p is no MaiBot project or the core has a healthcheck.
// The upgrade's gate uses it for an adoption's new core (phase_gate.go).
func maibotReadyPreset(p *project.Project) (service, line string) {
	d := maibot.Detect(maibotgate.Services(p))
	if !d.MaiBot {
		return "", ""
	}
	s := p.Services[d.Core]
	if s.HealthCheck != nil && !s.HealthCheck.Disable {
		return "", ""
	}
	return d.Core, maibot.HealthPreset(tagVersion(s.Image)).ReadyLog
}

// hasReadyLogExt tells whether service svc of p sets x-maim ready_log itself.
func hasReadyLogExt(p *project.Project, svc string) bool {
	ext, err := health.ParseExtension(p.Services[svc].Extensions)
	return err == nil && ext.ReadyLog != ""
}
