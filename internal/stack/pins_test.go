package stack

import (
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker-maim/docker-maim/internal/project"
)

func TestWithImagesLeavesTheOriginal(t *testing.T) {
	bot, db := types.ServiceConfig{Name: "bot"}, types.ServiceConfig{Name: "db"}
	bot.Image, db.Image = "bot:1", "db:1"
	p := &project.Project{Project: &types.Project{Name: "demo", Services: types.Services{"bot": bot, "db": db}}, EnvFiles: []string{"/x/.env"}}
	if WithImages(p, nil) != p {
		t.Error("no overrides: the same project")
	}
	got := WithImages(p, map[string]string{"bot": "bot:2"})
	if got.Services["bot"].Image != "bot:2" || got.Services["db"].Image != "db:1" || got.Name != "demo" || len(got.EnvFiles) != 1 {
		t.Errorf("withImages = %+v", got.Services)
	}
	if p.Services["bot"].Image != "bot:1" {
		t.Error("withImages changed the original project")
	}
}

func TestPinRefAndSanitizeTag(t *testing.T) {
	if got := PinRef("demo", "bot", "20261125T221530Z-2"); got != "docker-maim/pin:demo.bot.20261125T221530Z-2" {
		t.Errorf("pinRef = %q", got)
	}
	if got := PinRef("my proj", "web/app:x", "20261125T221530Z"); got != "docker-maim/pin:my_proj.web_app_x.20261125T221530Z" {
		t.Errorf("pinRef with unsafe chars = %q", got)
	}
	for in, want := range map[string]string{"a-b_c.d": "a-b_c.d", "ä b": "__b", "x@y:z/w": "x_y_z_w", "": ""} {
		if got := sanitizeTag(in); got != want {
			t.Errorf("sanitizeTag(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestShortID(t *testing.T) {
	if ShortID("sha256:0123456789abcdef") != "0123456789ab" || ShortID("abc") != "abc" {
		t.Error("shortID")
	}
}
