package maibotgate

import (
	"fmt"
	"path"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/types"
	maim "github.com/docker-maim/docker-maim/internal/api"
	"github.com/docker-maim/docker-maim/internal/config"
	"github.com/docker-maim/docker-maim/internal/maibot"
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
//   - with no x-maim merge declared, the configs of MaiBot's template layout are merged when
//     the new image ships templates (0.x; TemplatePlans).
// The upgrade (internal/upgrade) only calls these: CheckAdoption and TemplatePlans from its
// planner, Versions from its gate's description, AppVersions from its backup phase (and
// status from the application layer).

// bindOf is the host source of service s's bind at container path target ("" for none).
func bindOf(s types.ServiceConfig, target string) string {
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && path.Clean(v.Target) == target {
			return v.Source
		}
	}
	return ""
}

// Versions reads the database schema and the configs' [inner].version of p's core
// service from the host (core "" when p is no MaiBot project), from the dirs it binds at
// maibot.DataDir and maibot.ConfigDir: maibot.ReadVersions, which reads them with care (this
// runs while the bot is stopped, over dirs its container can write).
func Versions(p *project.Project) (core string, dbSchema int32, configs map[string]string, warnings []string) {
	d := maibot.Detect(Services(p))
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
	core, db, configs, warnings := Versions(p)
	if core == "" {
		return nil, warnings
	}
	return maibot.AppVersions(db, configs), warnings
}

// CheckAdoption checks an adoption of MaiBot's compose files, from the project p runs now
// to the merged files' newp: refuses an unconfirmed 0.x -> 1.x move (the error), warns
// about lost agreement hashes and versions it could not read (warnings), and returns what
// the plan shows (nil when newp is no MaiBot project). newVersions are the versions of the
// images the upgrade will run, by service (its reading: version label, else tag); tagVersion
// is its reading of a reference's tag as a version.
func CheckAdoption(p, newp *project.Project, newVersions map[string]string, tagVersion func(ref string) string) (mb *maim.MaiBotMove, warnings []string, err error) {
	nd := maibot.Detect(Services(newp))
	if !nd.MaiBot {
		return nil, nil, nil
	}
	od := maibot.Detect(Services(p))
	mb = &maim.MaiBotMove{Core: nd.Core, FromEra: od.Era, ToEra: nd.Era}
	mb.DBSchema = -1
	if od.MaiBot {
		_, mb.DBSchema, mb.ConfigVersions, warnings = Versions(p)
	}
	if svc, line := readyPreset(newp, tagVersion); svc == nd.Core {
		mb.ReadyLog = line
	}
	newEnv := project.EnvMap(newp.Services[nd.Core].Environment)
	if od.MaiBot {
		mb.LostAgreements = maibot.MissingAgreements(project.EnvMap(p.Services[od.Core].Environment), newEnv)
		for _, v := range mb.LostAgreements {
			warnings = append(warnings, fmt.Sprintf("MaiBot: %s was set in your compose file and is not in the merged one: add it to service %s, or the bot asks on stdin and restarts forever", v, nd.Core))
		}
	}
	if v, ok := newVersions[nd.Core]; ok && !maibot.HasTemplates(v) {
		mb.NoTemplates = true
	}
	mb.Confirmed, err = maibot.CheckMove(od, nd, newEnv)
	return mb, warnings, err
}

// readyPreset is the health gate preset of a MaiBot project's core service whose compose
// file declares no healthcheck: the ready log line every release prints
// (maibot.HealthPreset, for the version tagVersion reads from the core's image). "" when p
// is no MaiBot project or the core has a healthcheck.
func readyPreset(p *project.Project, tagVersion func(ref string) string) (service, line string) {
	d := maibot.Detect(Services(p))
	if !d.MaiBot {
		return "", ""
	}
	s := p.Services[d.Core]
	if s.HealthCheck != nil && !s.HealthCheck.Disable {
		return "", ""
	}
	return d.Core, maibot.HealthPreset(tagVersion(s.Image)).ReadyLog
}

// TemplatePlans are the config merges of MaiBot's template layout (maibot.TemplatePlans) for
// p's services with the images they will run (images, by service) and those images'
// versions (versions, by service; the upgrade's reading): the merges of the versions that
// ship templates only, as MaiBot 1.x images have none (the bot migrates its own config).
// The upgrade merges these when no x-maim declaration names a merge. Binds are read with
// their host sources made absolute against p's working dir.
func TemplatePlans(p *project.Project, images, versions map[string]string) []config.Plan {
	var infos []maibot.Service
	for _, name := range p.ServiceNames() {
		si := maibot.Service{Name: name, Image: images[name]}
		for _, v := range p.Services[name].Volumes {
			if v.Type == types.VolumeTypeBind {
				src := v.Source
				if !filepath.IsAbs(src) {
					src = filepath.Join(p.WorkingDir, src)
				}
				si.Mounts = append(si.Mounts, maibot.Mount{Source: src, Target: v.Target})
			}
		}
		infos = append(infos, si)
	}
	var plans []config.Plan
	for _, pl := range maibot.TemplatePlans(infos) {
		if maibot.HasTemplates(versions[pl.Service]) {
			plans = append(plans, pl)
		}
	}
	return plans
}
