package maibot

import "testing"

func TestLocale(t *testing.T) {
	for _, tc := range []struct {
		env   map[string]string
		image []string
		want  string
	}{
		{nil, nil, "zh-CN"},
		{map[string]string{"MAIBOT_LOCALE": "en-US"}, []string{"MAIBOT_LOCALE=ko"}, "en-US"},
		{nil, []string{"PATH=/bin", "MAIBOT_LOCALE=ko", "MAIBOT_LOCALE=ja-JP"}, "ja-JP"},
		{map[string]string{"MAIBOT_LOCALE": " en_US "}, nil, "en-US"},
		{map[string]string{"MAIBOT_LOCALE": ""}, []string{"MAIBOT_LOCALE=ko"}, "zh-CN"},
	} {
		if got := Locale(tc.env, tc.image); got != tc.want {
			t.Errorf("Locale(%v, %v) = %q, want %q", tc.env, tc.image, got, tc.want)
		}
	}
	if got := CatalogPath("", "en-US"); got != "/MaiMBot/locales/en-US/startup.json" {
		t.Errorf("CatalogPath = %q", got)
	}
	if got := CatalogPath("/app", "../../etc"); got != "/app/locales/etc/startup.json" {
		t.Errorf("CatalogPath with a hostile locale = %q", got)
	}
}

func TestBannerFromCatalog(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"startup.waking_up": "x", "startup.initialization_completed_banner": "All systems initialized. {nickname} has been awakened successfully."}`, "All systems initialized. {nickname} has been awakened successfully."},
		{`{"startup": {"initialization_completed_banner": "nested {nickname}"}}`, "nested {nickname}"},
		{`{"startup.initialization_completed_banner": {"one": "a", "other": "plural {nickname}"}}`, "plural {nickname}"},
		{`{"startup.waking_up": "x"}`, ""},
	} {
		got, err := BannerFromCatalog([]byte(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("BannerFromCatalog(%s) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := BannerFromCatalog([]byte(`{"startup.initialization_completed_banner": 3}`)); err == nil {
		t.Error("a number as the banner is no error")
	}
	if _, err := BannerFromCatalog([]byte(`not json`)); err == nil {
		t.Error("a broken catalog is no error")
	}
}

func TestBannerMatch(t *testing.T) {
	zh := ParseBanner("全部系统初始化完成，{nickname} 已成功唤醒")
	if len(zh.Parts) != 2 || zh.Parts[0] != "全部系统初始化完成，" || zh.Parts[1] != "已成功唤醒" {
		t.Fatalf("parts %q", zh.Parts)
	}
	for line, want := range map[string]bool{
		"2026-08-01 12:00:00 [main] INFO 全部系统初始化完成，麦麦 已成功唤醒": true,
		"全部系统初始化完成，小智已成功唤醒":                                  true, // 0.x: no space
		"已成功唤醒 全部系统初始化完成，麦麦":                                 false,
		"全部系统初始化完成，麦麦":                                       false,
		"正在唤醒 麦麦......":                                      false,
	} {
		if got := zh.Match(line); got != want {
			t.Errorf("zh Match(%q) = %v", line, got)
		}
	}
	en := ParseBanner("All systems initialized. {nickname} has been awakened successfully.")
	if !en.Match("INFO All systems initialized. Mai has been awakened successfully.") || en.Match("All systems initialized.") {
		t.Error("en-US banner")
	}
	lit := ParseBanner("ready {{not a placeholder}} {name}!")
	if len(lit.Parts) != 2 || lit.Parts[0] != "ready {not a placeholder}" || lit.Parts[1] != "!" {
		t.Errorf("literal braces: %q", lit.Parts)
	}
	if ParseBanner("{nickname}").Match("anything") || ParseBanner("").Match("") {
		t.Error("a banner without fixed parts matched")
	}
	if got := ReadyBanners(""); len(got) != len(KnownBanners) {
		t.Errorf("fallback banners %d", len(got))
	}
	if got := ReadyBanners("Reworded: {nickname} is up"); len(got) != 1 || !got[0].Match("Reworded: 麦麦 is up") || got[0].Match("全部系统初始化完成，麦麦 已成功唤醒") {
		t.Errorf("catalog banner %+v", got)
	}
}

func TestMigration(t *testing.T) {
	if !LooksLikeMigration("Running database Migration 27") || !LooksLikeMigration("正在迁移数据库") || LooksLikeMigration("正在唤醒 麦麦") {
		t.Error("LooksLikeMigration")
	}
	if MigrationState(26) != "migrating the database (schema 26 -> newer)" || MigrationState(-1) != "migrating the database" {
		t.Error("MigrationState")
	}
}
