package composemerge

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decoded is a compose file as plain values, environment and labels lists as maps.
func decoded(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatalf("unmarshal: %v\n%s", err, b)
	}
	if v == nil {
		v = map[string]any{}
	}
	svcs, _ := v["services"].(map[string]any)
	for _, s := range svcs {
		sm, ok := s.(map[string]any)
		if !ok {
			continue
		}
		for _, k := range []string{"environment", "labels"} {
			if l, ok := sm[k].([]any); ok {
				m := map[string]any{}
				for _, it := range l {
					str, _ := it.(string)
					key, val, has := strings.Cut(str, "=")
					if has {
						m[key] = val
					} else {
						m[key] = nil
					}
				}
				sm[k] = m
			}
		}
	}
	return v
}

func svcEnv(t *testing.T, b []byte, svc string) map[string]any {
	t.Helper()
	v := decoded(t, b)
	s, _ := v["services"].(map[string]any)[svc].(map[string]any)
	if s == nil {
		t.Fatalf("no service %s in\n%s", svc, b)
	}
	e, _ := s["environment"].(map[string]any)
	return e
}

func svc(t *testing.T, b []byte, name string) map[string]any {
	t.Helper()
	s, _ := decoded(t, b)["services"].(map[string]any)[name].(map[string]any)
	return s
}

func findChange(r Report, service, path string) *Change {
	for i, c := range r.Changes {
		if c.Service == service && c.Path == path {
			return &r.Changes[i]
		}
	}
	return nil
}

func TestMaiBot012To1xThreeWay(t *testing.T) {
	base, user, up := read(t, "maibot-0.12-upstream.yaml"), read(t, "maibot-0.12-user.yaml"), read(t, "maibot-1.x-upstream.yaml")
	out, rep, err := Merge(base, user, up)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Mode != ThreeWay {
		t.Errorf("mode %q", rep.Mode)
	}
	env := svcEnv(t, out, "core")
	if env["TZ"] != "Europe/Berlin" {
		t.Errorf("core TZ = %v, want the user's", env["TZ"])
	}
	if env["MAIBOT_LEGACY_0X_UPGRADE_CONFIRMED"] != "1" || env["WEBUI_HOST"] != "0.0.0.0" {
		t.Errorf("upstream's new env lost: %v", env)
	}
	if env["OPENAI_API_KEY"] != "sk-very-secret" {
		t.Errorf("the user's added variable is not carried: %v", env)
	}
	// Both added EULA_AGREE: upstream's (the hash of the new release's text) is kept, a conflict.
	if env["EULA_AGREE"] != "99f08e0cab0190de853cb6af7d64d4de" {
		t.Errorf("EULA_AGREE = %v, want upstream's", env["EULA_AGREE"])
	}
	if c := findChange(rep, "core", "environment.EULA_AGREE"); c == nil || !c.Conflict || c.Rule != RuleBothChanged ||
		c.User != "1111aaaa2222bbbb3333cccc4444dddd" {
		t.Errorf("EULA change: %+v", c)
	}
	if c := findChange(rep, "core", "environment.OPENAI_API_KEY"); c == nil || c.New != "<redacted>" || !c.Redacted {
		t.Errorf("secret not redacted: %+v", c)
	}
	if svcEnv(t, out, "napcat")["TZ"] != "Europe/Berlin" {
		t.Errorf("napcat TZ not carried")
	}
	if got := svc(t, out, "core")["image"]; got != "sengokucola/maibot:0.12.3" {
		t.Errorf("pinned tag: image = %v", got)
	}
	if c := findChange(rep, "core", "image"); c == nil || c.Rule != RuleImagePinned {
		t.Errorf("image change: %+v", c)
	}
	if got := svc(t, out, "sqlite-web")["ports"]; !reflect.DeepEqual(got, []any{"127.0.0.1:9120:8080"}) {
		t.Errorf("sqlite-web ports = %v", got)
	}
	w := svc(t, out, "watcher")
	if w == nil || w["image"] != "busybox:1.36" {
		t.Fatalf("the user's extra service is not carried:\n%s", out)
	}
	if _, ok := decoded(t, out)["volumes"].(map[string]any)["watcher-state"]; !ok {
		t.Errorf("the extra service's named volume is not carried")
	}
	if svc(t, out, "adapters") != nil {
		t.Errorf("adapters kept; upstream removed it")
	}
	if !reflect.DeepEqual(rep.ServicesRemoved, []string{"adapters"}) || len(rep.ServicesAdded) != 0 {
		t.Errorf("services removed %v added %v", rep.ServicesRemoved, rep.ServicesAdded)
	}
	if c := findChange(rep, "adapters", "services.adapters"); c == nil || c.Rule != RuleUpstreamRemoved || c.Conflict {
		t.Errorf("adapters change: %+v", c)
	}
	// Binds: the .env file, the statistics file and the adapter's config are no longer mounted.
	unmounted := map[string]bool{}
	for _, b := range rep.BindsMoved {
		if b.Unmounted {
			unmounted[b.OldSource] = true
		}
	}
	for _, s := range []string{"./docker-config/mmc/.env", "./data/MaiMBot/maibot_statistics.html", "./docker-config/adapters/config.toml", "./data/adapters"} {
		if !unmounted[s] {
			t.Errorf("bind %s not reported unmounted: %+v", s, rep.BindsMoved)
		}
	}
	if !rep.LayoutChanged() {
		t.Error("layout change not seen")
	}
	// Upstream's comments and order survive.
	for _, s := range []string{"# WebUI", "# moving a 0.x database and config forward", "# MaiBot 1.x-like upstream"} {
		if !strings.Contains(string(out), s) {
			t.Errorf("comment %q lost:\n%s", s, out)
		}
	}
	if strings.Index(string(out), "  core:") > strings.Index(string(out), "  napcat:") ||
		strings.Index(string(out), "  sqlite-web:") > strings.Index(string(out), "  watcher:") {
		t.Errorf("service order:\n%s", out)
	}
	if rep.Conflicts != 2 { // EULA_AGREE and PRIVACY_AGREE
		t.Errorf("conflicts = %d: %+v", rep.Conflicts, rep.Changes)
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Fatal(err)
	}
	d := Diff("compose.yaml", user, out, false)
	if strings.Contains(d, "sk-very-secret") || !strings.Contains(d, "-      - ./docker-config/mmc/.env:/MaiMBot/.env") {
		t.Errorf("diff:\n%s", d)
	}
}

func TestMaiBot012To1xTwoWay(t *testing.T) {
	user, up := read(t, "maibot-0.12-user.yaml"), read(t, "maibot-1.x-upstream.yaml")
	out, rep, err := MergeWith(nil, user, up, Options{RemovedServices: []string{"adapters"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Mode != TwoWay {
		t.Errorf("mode %q", rep.Mode)
	}
	env := svcEnv(t, out, "core")
	if env["TZ"] != "Europe/Berlin" || env["EULA_AGREE"] != "1111aaaa2222bbbb3333cccc4444dddd" {
		t.Errorf("two-way keeps the user's values: %v", env)
	}
	if _, ok := env["OPENAI_API_KEY"]; ok {
		t.Errorf("a user-only key of a shared service is carried in two-way")
	}
	if c := findChange(rep, "core", "environment.OPENAI_API_KEY"); c == nil || c.Rule != RuleTwoWayDropped || c.User != "<redacted>" {
		t.Errorf("drop not reported (redacted): %+v", c)
	}
	if svc(t, out, "watcher") == nil || svc(t, out, "adapters") != nil {
		t.Errorf("watcher kept, adapters (known removed) not:\n%s", out)
	}
	if got := svc(t, out, "core")["image"]; got != "sengokucola/maibot:0.12.3" {
		t.Errorf("image %v", got)
	}
	vols := svc(t, out, "core")["volumes"].([]any)
	for _, v := range vols {
		if strings.Contains(v.(string), ".env") {
			t.Errorf("old .env bind carried in two-way: %v", vols)
		}
	}
	// Without the hint, the adapters service is user-only and kept, and said so.
	out, rep, err = Merge(nil, user, up)
	if err != nil {
		t.Fatal(err)
	}
	if svc(t, out, "adapters") == nil {
		t.Error("two-way drops a user-only service")
	}
	if c := findChange(rep, "adapters", "services.adapters"); c == nil || c.Rule != RuleTwoWayUserKept {
		t.Errorf("%+v", c)
	}
}

func TestTwoWayImageTags(t *testing.T) {
	for _, c := range []struct{ user, up, want, rule string }{
		{"app/bot:0.12.3", "app/bot:latest", "app/bot:0.12.3", RuleImagePinned},
		{"app/bot:0.12.3", "app/bot", "app/bot:0.12.3", RuleImagePinned},
		{"app/bot:1.0.0", "app/bot:2.0.0", "app/bot:2.0.0", RuleTwoWayReleaseTag},
		{"old/bot:1.0.0", "new/bot:latest", "new/bot:latest", RuleImageRenamed},
	} {
		out, rep, err := Merge(nil, []byte("services:\n  a:\n    image: "+c.user+"\n"), []byte("services:\n  a:\n    image: "+c.up+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got := svc(t, out, "a")["image"]; got != c.want {
			t.Errorf("%s onto %s: %v", c.user, c.up, got)
		}
		if ch := findChange(rep, "a", "image"); ch == nil || ch.Rule != c.rule {
			t.Errorf("%s onto %s: %+v", c.user, c.up, ch)
		}
	}
}

func TestNoUserChangeIsUpstreamByteForByte(t *testing.T) {
	base, up := read(t, "maibot-0.12-upstream.yaml"), read(t, "maibot-1.x-upstream.yaml")
	out, rep, err := Merge(base, base, up)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != string(up) {
		t.Errorf("not upstream byte for byte:\n%s", out)
	}
	if !reflect.DeepEqual(rep.ServicesAdded, []string{}) || !reflect.DeepEqual(rep.ServicesRemoved, []string{"adapters"}) {
		t.Errorf("%+v", rep)
	}
}

func TestUserOntoUnchangedUpstreamIsUser(t *testing.T) {
	base, user := read(t, "maibot-0.12-upstream.yaml"), read(t, "maibot-0.12-user.yaml")
	out, _, err := Merge(base, user, base)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(decoded(t, out), decoded(t, user)) {
		t.Errorf("Merge(base, user, base) differs from user:\n%s", out)
	}
}

func TestRules(t *testing.T) {
	cases := []struct {
		name                 string
		base, user, upstream string
		want                 map[string]any // decoded service "a" of the result (nil: no check)
		rule, path           string
		conflict             bool
	}{
		{name: "map env user value",
			base: "services:\n  a:\n    environment:\n      TZ: UTC\n      X: '1'\n", user: "services:\n  a:\n    environment:\n      TZ: Asia/Tokyo\n      X: '1'\n",
			upstream: "services:\n  a:\n    environment:\n      TZ: UTC # zone\n      X: '2'\n      Y: new\n",
			want:     map[string]any{"environment": map[string]any{"TZ": "Asia/Tokyo", "X": "2", "Y": "new"}}, rule: RuleUserValue, path: "environment.TZ"},
		{name: "user list env onto map upstream",
			base: "services:\n  a:\n    environment:\n      - TZ=UTC\n", user: "services:\n  a:\n    environment:\n      - TZ=UTC\n      - NEW=1\n",
			upstream: "services:\n  a:\n    environment:\n      TZ: UTC\n",
			want:     map[string]any{"environment": map[string]any{"TZ": "UTC", "NEW": "1"}}, rule: RuleUserAdded, path: "environment.NEW"},
		{name: "user removed env",
			base: "services:\n  a:\n    environment: [A=1, B=2]\n", user: "services:\n  a:\n    environment: [A=1]\n",
			upstream: "services:\n  a:\n    environment: [A=1, B=2, C=3]\n",
			want:     map[string]any{"environment": map[string]any{"A": "1", "C": "3"}}, rule: RuleUserRemoved, path: "environment.B"},
		{name: "env conflict",
			base: "services:\n  a:\n    environment: [A=1]\n", user: "services:\n  a:\n    environment: [A=2]\n",
			upstream: "services:\n  a:\n    environment: [A=3]\n",
			want:     map[string]any{"environment": map[string]any{"A": "3"}}, rule: RuleBothChanged, path: "environment.A", conflict: true},
		{name: "port changed by container port",
			base: "services:\n  a:\n    ports: ['8000:8000', '6099:6099']\n", user: "services:\n  a:\n    ports: ['8080:8000', '6099:6099']\n",
			upstream: "services:\n  a:\n    ports: ['8000:8000', '18001:8001']\n",
			want:     map[string]any{"ports": []any{"8080:8000", "18001:8001"}}, rule: RuleUserValue, path: "ports[8000/tcp]"},
		{name: "long port form",
			base: "services:\n  a:\n    ports:\n      - target: 80\n        published: 8080\n", user: "services:\n  a:\n    ports:\n      - target: 80\n        published: 9090\n",
			upstream: "services:\n  a:\n    ports:\n      - target: 80\n        published: 8080\n        protocol: tcp\n",
			want:     map[string]any{"ports": []any{map[string]any{"target": 80, "published": 8080, "protocol": "tcp"}}}, rule: RuleBothChanged, path: "ports[80/tcp]", conflict: true},
		{name: "bind source changed",
			base: "services:\n  a:\n    volumes: ['./data:/data', 'cache:/cache']\n", user: "services:\n  a:\n    volumes: ['/srv/big:/data', 'cache:/cache', './extra:/extra:ro']\n",
			upstream: "services:\n  a:\n    volumes: ['./data:/data', './new:/new']\n",
			want:     map[string]any{"volumes": []any{"/srv/big:/data", "./new:/new", "./extra:/extra:ro"}}, rule: RuleUserAdded, path: "volumes[/extra]"},
		{name: "user removed a service",
			base: "services:\n  a:\n    image: x\n  b:\n    image: y\n", user: "services:\n  a:\n    image: x\n",
			upstream: "services:\n  a:\n    image: x:2\n  b:\n    image: y\n",
			want:     map[string]any{"image": "x:2"}, rule: RuleUserRemoved, path: "services.b"},
		{name: "upstream renamed the image",
			base: "services:\n  a:\n    image: old/app:latest\n", user: "services:\n  a:\n    image: old/app:1.2\n",
			upstream: "services:\n  a:\n    image: new/app:latest\n",
			want:     map[string]any{"image": "new/app:latest"}, rule: RuleImageRenamed, path: "image", conflict: true},
		{name: "pinned tag through variables",
			base: "services:\n  a:\n    image: ${REPO}:${V:-1.0.0}\n", user: "services:\n  a:\n    image: ${REPO}:1.0.3\n",
			upstream: "services:\n  a:\n    image: ${REPO}:${V:-1.0.0}\n    init: true\n",
			want:     map[string]any{"image": "${REPO}:1.0.3", "init": true}, rule: RuleImagePinned, path: "image"},
		{name: "other scalar",
			base: "services:\n  a:\n    restart: always\n", user: "services:\n  a:\n    restart: unless-stopped\n",
			upstream: "services:\n  a:\n    restart: always\n    mem_limit: 1g\n",
			want:     map[string]any{"restart": "unless-stopped", "mem_limit": "1g"}, rule: RuleUserValue, path: "restart"},
		{name: "nested mapping",
			base: "services:\n  a:\n    healthcheck:\n      interval: 10s\n      retries: 3\n", user: "services:\n  a:\n    healthcheck:\n      interval: 30s\n      retries: 3\n",
			upstream: "services:\n  a:\n    healthcheck:\n      interval: 10s\n      retries: 5\n",
			want:     map[string]any{"healthcheck": map[string]any{"interval": "30s", "retries": 5}}, rule: RuleUserValue, path: "healthcheck.interval"},
		{name: "depends_on on a removed service dropped",
			base: "services:\n  a:\n    image: x\n  b:\n    image: y\n", user: "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: y\n",
			upstream: "services:\n  a:\n    image: x\n",
			want:     map[string]any{"image": "x"}, rule: RuleDanglingDepends, path: "depends_on.b"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, rep, err := Merge([]byte(c.base), []byte(c.user), []byte(c.upstream))
			if err != nil {
				t.Fatal(err)
			}
			if c.want != nil {
				got, _ := decoded(t, out)["services"].(map[string]any)["a"].(map[string]any)
				if !reflect.DeepEqual(got, c.want) {
					t.Errorf("service a = %#v\nwant %#v\n%s", got, c.want, out)
				}
			}
			var ch *Change
			for i := range rep.Changes {
				if rep.Changes[i].Path == c.path || rep.Changes[i].Path == "services."+c.path {
					ch = &rep.Changes[i]
				}
			}
			if ch == nil || ch.Rule != c.rule || ch.Conflict != c.conflict {
				t.Errorf("change %s: %+v (all: %+v)", c.path, ch, rep.Changes)
			}
		})
	}
}

func TestCommentsKept(t *testing.T) {
	up := "# head\nservices:\n  a:\n    # the image\n    image: x:2 # tag\n    environment:\n      - A=1 # first\n      - B=2\n"
	out, _, err := Merge([]byte("services:\n  a:\n    image: x:1\n    environment: [A=1, B=2]\n"),
		[]byte("services:\n  a:\n    image: x:1\n    environment: [A=1, B=3]\n"), []byte(up))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"# head", "# the image", "image: x:2 # tag", "- A=1 # first", "- B=3"} {
		if !strings.Contains(string(out), s) {
			t.Errorf("%q missing:\n%s", s, out)
		}
	}
}

func TestAnchorsSurviveRemoval(t *testing.T) {
	base := "x-common: &common\n  restart: always\nservices:\n  a:\n    <<: *common\n    image: a\n  b:\n    image: b\n    environment: &env\n      A: '1'\n  c:\n    image: c\n    environment: *env\n"
	user := "services:\n  a:\n    restart: always\n    image: a\n  c:\n    image: c\n    environment:\n      A: '1'\n"
	out, _, err := Merge([]byte(base), []byte(user), []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := parseDoc("out", out); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := svcEnvMap(t, out, "c"); got["A"] != "1" {
		t.Errorf("c env %v\n%s", got, out)
	}
}

func svcEnvMap(t *testing.T, b []byte, s string) map[string]any {
	e, _ := svc(t, b, s)["environment"].(map[string]any)
	return e
}

func TestBindMoves(t *testing.T) {
	old := "services:\n  a:\n    volumes: ['./data:/data', './conf/app.toml:/app.toml', 'named:/n']\n"
	up := "services:\n  a:\n    volumes: ['./storage:/data', 'named:/n']\n"
	_, rep, err := Merge(nil, []byte(old), []byte(up))
	if err != nil {
		t.Fatal(err)
	}
	// Two-way keeps the user's source for /data, so ./data stays mounted; only the file goes.
	if b := rep.BindsMoved; len(b) != 1 || b[0].OldSource != "./conf/app.toml" || !b[0].Unmounted {
		t.Errorf("%+v", b)
	}
	_, rep, err = Merge([]byte(old), []byte(old), []byte(up))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]BindMove{}
	for _, b := range rep.BindsMoved {
		got[b.OldSource] = b
	}
	if b := got["./data"]; b.NewSource != "./storage" || !b.Unmounted {
		t.Errorf("./data: %+v", b)
	}
	if b := got["./conf/app.toml"]; !b.Unmounted || b.NewSource != "" {
		t.Errorf("app.toml: %+v", b)
	}
}

func TestErrors(t *testing.T) {
	for _, in := range []string{"services: [", "- a\n- b\n", "a: 1\na: 2\n", "a: *nope\n"} {
		if _, _, err := Merge(nil, []byte(in), []byte("services: {}\n")); err == nil {
			t.Errorf("%q: no error", in)
		}
		if _, _, err := Merge(nil, []byte("services: {}\n"), []byte(in)); err == nil {
			t.Errorf("%q as upstream: no error", in)
		}
	}
	if out, _, err := Merge(nil, nil, []byte("services: {}\n")); err != nil || string(out) != "services: {}\n" {
		t.Errorf("empty user: %q %v", out, err)
	}
}

func TestDiffRedacts(t *testing.T) {
	a := []byte("environment:\n  - API_TOKEN=abc\n  - TZ=UTC\n  - DB_PASSWORD=x\n")
	b := []byte("environment:\n  - API_TOKEN=def\n  - TZ=Asia/Tokyo\n  - DB_PASSWORD=x # same\n")
	d := Diff("compose.yaml", a, b, false)
	for _, s := range []string{"abc", "def", "=x"} {
		if strings.Contains(d, s) {
			t.Errorf("secret %q shown:\n%s", s, d)
		}
	}
	for _, s := range []string{"-  - API_TOKEN=<redacted: changed>", "+  - TZ=Asia/Tokyo", "DB_PASSWORD=<redacted: unchanged>"} {
		if !strings.Contains(d, s) {
			t.Errorf("%q missing:\n%s", s, d)
		}
	}
	if d := Diff("compose.yaml", a, b, true); !strings.Contains(d, "API_TOKEN=def") {
		t.Errorf("showSecrets:\n%s", d)
	}
	if Diff("compose.yaml", a, a, false) != "" {
		t.Error("diff of equal files")
	}
}

// TestProjectNameIsTheUsers: the result's top-level name: is the user's file's, or absent
// when the user's file has none, in both modes, whatever the release and the base say.
func TestProjectNameIsTheUsers(t *testing.T) {
	svc := "services:\n  web:\n    image: bot:2\n"
	for _, tc := range []struct {
		what             string
		base, user, up   string
		want             any // nil: no name
		changed          bool
		wantOld, wantNew string
	}{
		{"release adds a name", "", "services:\n  web:\n    image: bot:1\n", "name: maibot\n" + svc, nil, true, "maibot", ""},
		{"release adds a name, three-way", "services:\n  web:\n    image: bot:1\n", "services:\n  web:\n    image: bot:1\n", "# head\nname: maibot\n" + svc, nil, true, "maibot", ""},
		{"release renames", "name: maibot\nservices:\n  web:\n    image: bot:1\n", "name: maibot\nservices:\n  web:\n    image: bot:1\n", "name: maibot2\n" + svc, "maibot", true, "maibot2", "maibot"},
		{"user named it, release did not", "", "name: mine\nservices:\n  web:\n    image: bot:1\n", svc, "mine", true, "", "mine"},
		{"user named it, base too, release dropped it", "name: mine\nservices:\n  web:\n    image: bot:1\n", "name: mine\nservices:\n  web:\n    image: bot:1\n", svc, "mine", true, "", "mine"},
		{"same name", "", "name: maibot\nservices:\n  web:\n    image: bot:1\n", "name: maibot\n" + svc, "maibot", false, "", ""},
	} {
		t.Run(tc.what, func(t *testing.T) {
			var base []byte
			if tc.base != "" {
				base = []byte(tc.base)
			}
			out, rep, err := Merge(base, []byte(tc.user), []byte(tc.up))
			if err != nil {
				t.Fatal(err)
			}
			got := decoded(t, out)
			if got["name"] != tc.want {
				t.Errorf("name = %v, want %v\n%s", got["name"], tc.want, out)
			}
			if got["services"] == nil {
				t.Errorf("the result lost its services:\n%s", out)
			}
			var changes []Change
			for _, c := range rep.Changes {
				if c.Path == "name" {
					changes = append(changes, c)
				}
			}
			if !tc.changed {
				if len(changes) != 0 {
					t.Errorf("changes of name: %+v", changes)
				}
				return
			}
			if len(changes) != 1 || changes[0].Rule != RuleProjectName || changes[0].Old != tc.wantOld || changes[0].New != tc.wantNew {
				t.Errorf("changes of name: %+v, want one %s %q -> %q", changes, RuleProjectName, tc.wantOld, tc.wantNew)
			}
			if strings.HasPrefix(tc.up, "# head") && !strings.HasPrefix(string(out), "# head") {
				t.Errorf("the release's head comment is lost:\n%s", out)
			}
		})
	}
}
