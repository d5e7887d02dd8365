package e2e

import (
	"strings"
	"testing"

	"github.com/docker-maim/docker-maim/internal/maibot"
)

// maibotCoreCompose is a MaiBot 1.x core alone on a stand-in image (BOT_MAIBOT=1.x: it moves
// MaiBot.db's user_version to 24 + 2*major, 26 on 1.0.0 and 28 on 2.x, and logs the banner of
// the catalog in its image for MAIBOT_LOCALE). It declares no healthcheck (MaiBot's own
// image has none), so docker-maim gates the core on its ready banner.
const maibotCoreCompose = `services:
  core:
    image: ${CORE_IMAGE}
    environment:
      - BOT_MAIBOT=1.x
      - BOT_DATA=/MaiMBot/data
      - BOT_CONFIG=/MaiMBot/config/bot_config.toml
      - WEBUI_HOST=0.0.0.0
%s    volumes:
      - ./docker-config/mmc:/MaiMBot/config
      - ./data/MaiMBot:/MaiMBot/data
    restart: always
    healthcheck:
      disable: true
`

// maibotCore starts a MaiBot 1.x core project on the stand-in 1.0.0 (schema 26) with extra
// compose lines under the core service (each "      - KEY=VALUE" of its environment, or a
// key of the service) and returns it with the new image still to set.
func maibotCore(t *testing.T, name, extra string) *project {
	t.Helper()
	p := newProject(t, name, "")
	p.WriteFile("compose.yaml", strings.Replace(maibotCoreCompose, "%s", extra, 1))
	p.WriteFile("maibot.env", "MAIBOT_LOCALE=ja-JP\n") // for an env_file line in extra
	p.WriteFile(".env", "CORE_IMAGE="+p.Bot("1.0.0")+"\n")
	compose(t, p, "up", "-d", "--wait")
	if v := dbVersion(t, p.Path("data/MaiMBot/MaiBot.db")); v != 26 {
		t.Fatalf("1.0.0 database schema %d", v)
	}
	return p
}

// wantCore checks that the core runs image version v.
func (p *project) wantCore(v string) {
	p.t.Helper()
	c, ok := p.containers()["core"]
	if !ok {
		p.t.Fatal("no core container")
	}
	if got := c.Config.Labels["org.opencontainers.image.version"]; got != v || c.State == nil || !c.State.Running {
		p.t.Errorf("core runs version %q (running %v), want %q", got, c.State != nil && c.State.Running, v)
	}
}

// inOrder tells whether out holds each of subs, in that order.
func inOrder(out string, subs ...string) bool {
	for _, s := range subs {
		i := strings.Index(out, s)
		if i < 0 {
			return false
		}
		out = out[i+len(s):]
	}
	return true
}

// TestUpgradeMaiBotGateLocales: a plain upgrade of a MaiBot 1.x core (its image tag edited)
// is gated on the ready banner the new image's own catalog has for the core's locale: zh-CN
// when nothing sets one, en-US from the compose environment, ja-JP from an env_file, ko
// from the new image's ENV, and a release whose catalog rewords the zh-CN banner. Each
// passes, and the output names the catalog's banner (not the fallback list) and says the
// core logged it before the gate passed; `rollback` of the en-US one gates the old core the
// same way. The ja-JP and ko banners and the reworded one are
// in no list docker-maim carries: only the catalog tells them.
func TestUpgradeMaiBotGateLocales(t *testing.T) {
	t.Parallel()
	const reworded = "{nickname} 醒来了，各模块就绪"
	for _, tc := range []struct {
		name, locale, extra string
		image               func(p *project) string
		banner              string
	}{
		{"zh-CN-unset", "zh-CN", "", nil, "全部系统初始化完成，{nickname} 已成功唤醒"},
		{"en-US-environment", "en-US", "      - MAIBOT_LOCALE=en-US\n", nil, "All systems initialized. {nickname} has been awakened successfully."},
		{"ja-JP-env-file", "ja-JP", "    env_file: maibot.env\n", nil, "[stand-in ja-JP] すべてのシステムの初期化が完了しました。{nickname} が目覚めました。"},
		{"ko-image-env", "ko", "", func(p *project) string {
			return p.Derive("2.0.0", "2.0.0-ko", nil, "ENV MAIBOT_LOCALE=ko")
		}, "[stand-in ko] 모든 시스템 초기화 완료. {nickname} 깨어났습니다."},
		{"reworded", "zh-CN", "", func(p *project) string {
			return p.Derive("2.0.0", "2.0.1", map[string]string{
				"MaiMBot/locales/zh-CN/startup.json": `{"` + maibot.BannerKey + `": "` + reworded + `"}`,
			})
		}, reworded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := maibotCore(t, "maibot-gate-"+tc.name, tc.extra)
			img := p.Bot("2.0.0")
			if tc.image != nil {
				img = tc.image(p)
			}
			p.WriteFile(".env", "CORE_IMAGE="+img+"\n")
			r := mustOK(t, p.maim(upgradeArgs...))
			out := r.Stderr + r.Stdout // progress on stderr, the result on stdout
			want := "health gate: core waits for the ready banner \"" + tc.banner + "\" (" + tc.locale + ", /MaiMBot/locales/" + tc.locale + "/startup.json in its image)"
			if !strings.Contains(out, want) || !inOrder(out, want, "health gate: core: ready log seen", "upgraded project") {
				t.Errorf("the output does not show the gate waiting for %q and seeing it:\n%s", want, out)
			}
			p.wantCore("2.0.0")
			if v := dbVersion(t, p.Path("data/MaiMBot/MaiBot.db")); v != 28 {
				t.Errorf("database schema %d after the upgrade, want 28", v)
			}
			if tc.name != "en-US-environment" {
				return
			}
			// `rollback` gates the old core on the banner of its own (1.0.0) image's catalog.
			r = mustOK(t, p.maim("rollback", "--stable-period", "3s", "--timeout", "2m"))
			out = r.Stderr + r.Stdout
			if !inOrder(out, want, "health gate: core: ready log seen") {
				t.Errorf("the rollback's output does not show the gate waiting for %q and seeing it:\n%s", want, out)
			}
			p.wantCore("1.0.0")
			if v := dbVersion(t, p.Path("data/MaiMBot/MaiBot.db")); v != 26 {
				t.Errorf("database schema %d after the rollback, want 26", v)
			}
		})
	}
}

// TestUpgradeMaiBotGateMigration: with --timeout 5s, a new core that migrates the database
// while logging a step every 200ms for 15s is waited for and kept (its log never stops for
// 5s), and the progress says it migrates from the schema the backup recorded; a new core
// whose migration stops logging is rolled back once its log has been silent for --timeout
// (15s there), with the database back at schema 26. The assertions are on outcomes and order only: a slower
// machine makes the migration longer, never silent.
func TestUpgradeMaiBotGateMigration(t *testing.T) {
	t.Parallel()
	args := []string{"upgrade", "--accept-breaking", "--stable-period", "2s", "--timeout", "5s"}
	t.Run("progressing", func(t *testing.T) {
		t.Parallel()
		p := maibotCore(t, "maibot-gate-migrate", "      - BOT_MIGRATE_SECONDS=15\n")
		p.WriteFile(".env", "CORE_IMAGE="+p.Bot("2.0.0")+"\n")
		plan := mustOK(t, p.maim("upgrade", "--dry-run", "--migration-timeout", "7m")).Stdout
		if !strings.Contains(plan, "core (MaiBot) must log its ready banner, read from its new image's catalog for its locale; while it has not, new log output (a database migration) extends the wait beyond --timeout, up to 7m0s (its database is at schema 26 now)") {
			t.Errorf("the plan does not describe MaiBot's gate:\n%s", plan)
		}
		r := mustOK(t, p.maim(args...))
		out := r.Stderr + r.Stdout // progress on stderr, the result on stdout
		if !inOrder(out, "health gate: core: migrating the database (schema 26 -> newer)", "health gate: core: ready log seen", "upgraded project") {
			t.Errorf("the output does not show the migration and then the banner:\n%s", out)
		}
		p.wantCore("2.0.0")
		if v := dbVersion(t, p.Path("data/MaiMBot/MaiBot.db")); v != 28 {
			t.Errorf("database schema %d after the upgrade, want 28", v)
		}
		logs := compose(t, p, "logs", "--no-log-prefix", "core")
		if n := strings.Count(logs, "bot maibot database migration step"); n < 15*5/2 {
			t.Errorf("the migration logged %d steps; the test needs it to outlast --timeout", n)
		}
	})
	t.Run("silent", func(t *testing.T) {
		t.Parallel()
		p := maibotCore(t, "maibot-gate-hang", "      - BOT_MIGRATE_HANG=1\n")
		p.WriteFile(".env", "CORE_IMAGE="+p.Bot("2.0.0")+"\n")
		// 15s: the rollback's own gate (the old core, no migration) gets it too, which a
		// loaded machine needs more than the hang's detection needs brevity.
		r := p.maim("upgrade", "--accept-breaking", "--stable-period", "2s", "--timeout", "15s")
		if r.Code != 10 {
			t.Fatalf("want exit 10 (rolled back): %s", r)
		}
		out := r.Stderr + r.Stdout // progress on stderr, the result on stdout
		if !strings.Contains(out, "core failed the health gate: not ready, and its log silent for 15s: the ready banner") {
			t.Errorf("the failure does not say the log went silent:\n%s", out)
		}
		p.wantCore("1.0.0")
		if v := dbVersion(t, p.Path("data/MaiMBot/MaiBot.db")); v != 26 {
			t.Errorf("database schema %d after the rollback, want 26", v)
		}
	})
}
