package upgrade

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseSemver(t *testing.T) {
	for _, c := range []struct {
		in   string
		want semver
		ok   bool
	}{
		{"1.2.3", semver{1, 2, 3}, true},
		{"v1.2.3", semver{1, 2, 3}, true},
		{"v2", semver{2, 0, 0}, true},
		{"0.7", semver{0, 7, 0}, true},
		{" 1.0.1 ", semver{1, 0, 1}, true},
		{"1.2.3-rc.1", semver{1, 2, 3}, true},
		{"1.2.3+build.7", semver{1, 2, 3}, true},
		{"10.20.30", semver{10, 20, 30}, true},
		{"latest", semver{}, false},
		{"", semver{}, false},
		{"1.2.3.4", semver{}, false},
		{"release-1.2", semver{}, false},
		{"1.x", semver{}, false},
	} {
		got, ok := parseSemver(c.in)
		if ok != c.ok || got != c.want {
			t.Errorf("parseSemver(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestSemverLess(t *testing.T) {
	vs := []semver{{0, 0, 1}, {0, 1, 0}, {0, 1, 2}, {1, 0, 0}, {1, 0, 10}, {1, 2, 0}, {2, 0, 0}}
	for i := range vs {
		for j := range vs {
			if got := vs[i].less(vs[j]); got != (i < j) {
				t.Errorf("%v.less(%v) = %v", vs[i], vs[j], got)
			}
		}
	}
}

func TestMajorRise(t *testing.T) {
	for _, c := range []struct {
		old, new string
		want     bool
		why      string
	}{
		{"1.9.9", "2.0.0", true, "major version rises 1.9.9 -> 2.0.0"},
		{"v1.0.0", "v2.1.0", true, "major"},
		{"1.2.0", "1.3.0", false, ""},
		{"1.2.0", "1.2.1", false, ""},
		{"2.0.0", "1.0.0", false, ""}, // a downgrade is not a rise
		{"0.6.3", "0.7.0", true, "0.x minor version rises 0.6.3 -> 0.7.0"},
		{"0.6.3", "0.6.4", false, ""},
		{"0.11.0", "0.12.0-beta", true, "0.x minor"},
		{"0.9.1", "1.0.0", true, "major"},
		{"1.5.0", "2.0.0-rc.1", true, "major"},
		{"latest", "2.0.0", false, ""},
		{"1.0.0", "", false, ""},
		{"", "", false, ""},
	} {
		got, why := majorRise(c.old, c.new)
		if got != c.want || !strings.Contains(why, c.why) || (!got && why != "") {
			t.Errorf("majorRise(%q, %q) = %v, %q; want %v, ~%q", c.old, c.new, got, why, c.want, c.why)
		}
	}
}

func TestTagVersion(t *testing.T) {
	for ref, want := range map[string]string{
		"maibot:0.7.1":                              "0.7.1",
		"ghcr.io/org/app:v2":                        "v2",
		"localhost:5001/bot:1.2.3-rc1":              "1.2.3-rc1",
		"localhost:5001/bot":                        "",
		"localhost:5001/bot:latest":                 "",
		"bot:1.2@sha256:" + strings.Repeat("a", 64): "1.2",
		"bot@sha256:" + strings.Repeat("0a", 32):    "",
		"bot":                                       "",
		"bot:stable":                                "",
	} {
		if got := tagVersion(ref); got != want {
			t.Errorf("tagVersion(%q) = %q, want %q", ref, got, want)
		}
	}
}

func TestParseBreaking(t *testing.T) {
	for _, c := range []struct {
		name    string
		ext     map[string]any
		want    *breakingDecl
		wantErr string
	}{
		{"nil", nil, nil, ""},
		{"no x-maim", map[string]any{"x-other": 1}, nil, ""},
		{"x-maim without breaking", map[string]any{"x-maim": map[string]any{"ready_log": "up"}}, nil, ""},
		{"x-maim not a mapping", map[string]any{"x-maim": "yes"}, nil, "mapping"},
		{"mapping", map[string]any{"x-maim": map[string]any{"breaking": map[string]any{"version": "2.0.0", "reason": "schema 2", "notes": "https://n"}}},
			&breakingDecl{Version: "2.0.0", Reason: "schema 2", Notes: "https://n"}, ""},
		{"numeric version", map[string]any{"x-maim": map[string]any{"breaking": map[string]any{"version": 2}}}, &breakingDecl{Version: "2"}, ""},
		{"unknown key", map[string]any{"x-maim": map[string]any{"breaking": map[string]any{"versoin": "2"}}}, nil, `unknown key "versoin"`},
		{"true", map[string]any{"x-maim": map[string]any{"breaking": true}}, &breakingDecl{Reason: "declared breaking in the compose file"}, ""},
		{"false", map[string]any{"x-maim": map[string]any{"breaking": false}}, nil, ""},
		{"string", map[string]any{"x-maim": map[string]any{"breaking": "new database"}}, &breakingDecl{Reason: "new database"}, ""},
		{"string false", map[string]any{"x-maim": map[string]any{"breaking": "false"}}, nil, ""},
		{"empty string", map[string]any{"x-maim": map[string]any{"breaking": ""}}, nil, ""},
		{"number", map[string]any{"x-maim": map[string]any{"breaking": 3}}, nil, "must be"},
		{"list", map[string]any{"x-maim": map[string]any{"breaking": []any{"a"}}}, nil, "must be"},
	} {
		got, err := parseBreaking(c.ext)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: err = %v, want ~%q", c.name, err, c.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: parseBreaking = %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
}

func TestBreakingApplies(t *testing.T) {
	d := &breakingDecl{Version: "2.0.0"}
	for _, c := range []struct {
		old, new string
		want     bool
	}{
		{"1.5.0", "2.0.0", true},  // reaches it
		{"1.5.0", "2.3.1", true},  // crosses it
		{"v1.0", "v3", true},      // v-prefixes
		{"2.0.0", "2.1.0", false}, // already past it
		{"1.0.0", "1.9.9", false}, // not yet there
		{"2.1.0", "1.5.0", false}, // a downgrade across it is not an upgrade into it
		{"latest", "2.0.0", true}, // cannot tell: be safe
		{"1.0.0", "", true},
	} {
		if got := d.applies(c.old, c.new); got != c.want {
			t.Errorf("applies(%q, %q) at 2.0.0 = %v, want %v", c.old, c.new, got, c.want)
		}
	}
	if !(&breakingDecl{}).applies("1.0.0", "1.0.1") {
		t.Error("a declaration without a version applies to every change")
	}
	if !(&breakingDecl{Version: "not-semver"}).applies("1.0.0", "1.0.1") {
		t.Error("an unparseable declared version must apply (be safe)")
	}
}

func TestFindBreaking(t *testing.T) {
	changes := []ImageChange{
		{Service: "bot", OldID: "sha256:old", NewID: "sha256:new", OldVersion: "0.6.3", NewVersion: "0.7.0",
			NewLabels: map[string]string{LabelNotes: "https://notes"}},
		{Service: "db", OldID: "sha256:db1", NewID: "sha256:db2", OldVersion: "1.1.0", NewVersion: "1.2.0",
			NewLabels: map[string]string{LabelBreaking: "new on-disk format"}},
		{Service: "cache", OldID: "sha256:c1", NewID: "sha256:c2", OldVersion: "3.0.0", NewVersion: "3.0.1",
			NewLabels: map[string]string{LabelBreaking: "true"}},
		{Service: "web", OldID: "sha256:w1", NewID: "sha256:w2", OldVersion: "1.0.0", NewVersion: "1.0.1",
			NewLabels: map[string]string{LabelBreaking: "false"}},
		// unchanged: nothing it declares matters
		{Service: "same", OldID: "sha256:s", NewID: "sha256:s", OldVersion: "1.0.0", NewVersion: "9.0.0",
			NewLabels: map[string]string{LabelBreaking: "true"}},
		// not pulled / build only
		{Service: "built", OldID: "sha256:b", NewID: "", OldVersion: "1.0.0", NewVersion: "9.0.0"},
	}
	svcExt := map[string]map[string]any{
		"web":  {"x-maim": map[string]any{"breaking": map[string]any{"version": "1.0.1", "reason": "config v2"}}},
		"same": {"x-maim": map[string]any{"breaking": true}},
	}
	got, err := findBreaking(changes, svcExt, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Finding{
		{Service: "bot", Reason: "0.x minor version rises 0.6.3 -> 0.7.0 (breaking under semver)", Notes: "https://notes"},
		{Service: "db", Reason: "the new image declares a breaking change: new on-disk format"},
		{Service: "cache", Reason: "the new image declares a breaking change"},
		{Service: "web", Reason: "config v2 (at 1.0.1)"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("findBreaking =\n%+v\nwant\n%+v", got, want)
	}
	if s := got[0].String(); s != "bot: 0.x minor version rises 0.6.3 -> 0.7.0 (breaking under semver) (notes: https://notes)" {
		t.Errorf("Finding.String() = %q", s)
	}

	// a project-wide declaration concerns every changed service that crosses it
	proj := map[string]any{"x-maim": map[string]any{"breaking": map[string]any{"version": "1.2.0", "notes": "https://proj"}}}
	got, err = findBreaking(changes[1:4], nil, proj)
	if err != nil {
		t.Fatal(err)
	}
	var projFindings []Finding
	for _, f := range got {
		if strings.Contains(f.Reason, "(at 1.2.0)") {
			projFindings = append(projFindings, f)
		}
	}
	if len(projFindings) != 1 || projFindings[0].Service != "db" || projFindings[0].Notes != "https://proj" ||
		projFindings[0].Reason != "declared breaking in the compose file (at 1.2.0)" {
		t.Fatalf("project declaration findings = %+v (want only db, which crosses 1.2.0)", projFindings)
	}

	// nothing changed: nothing breaking
	if got, err := findBreaking(changes[4:], svcExt, proj); err != nil || len(got) != 0 {
		t.Fatalf("unchanged services: %+v, %v", got, err)
	}

	// a bad declaration is an error naming the service
	_, err = findBreaking(changes[:1], map[string]map[string]any{"bot": {"x-maim": map[string]any{"breaking": 7}}}, nil)
	if err == nil || !strings.Contains(err.Error(), "bot") {
		t.Fatalf("err = %v, want one naming bot", err)
	}
	if _, err := findBreaking(changes[:1], nil, map[string]any{"x-maim": []any{}}); err == nil {
		t.Fatal("a bad project declaration must be an error")
	}
}
