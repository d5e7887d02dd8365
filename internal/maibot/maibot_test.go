package maibot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

// header is an SQLite database header with the given user_version.
func header(userVersion uint32) []byte {
	h := make([]byte, HeaderSize)
	copy(h, SQLiteMagic)
	binary.BigEndian.PutUint16(h[16:], 4096) // page size
	h[18], h[19] = 2, 2                      // WAL
	binary.BigEndian.PutUint32(h[60:], userVersion)
	return h
}

func TestSchemaVersion(t *testing.T) {
	for _, v := range []uint32{0, 26, 40, 0xFFFFFFFF} {
		r := io.MultiReader(bytes.NewReader(header(v)), strings.NewReader(strings.Repeat("x", 4000)))
		got, err := SchemaVersion(r)
		if err != nil || got != int32(v) {
			t.Errorf("%d: got %d %v", v, got, err)
		}
	}
	// Exactly the header is read: the rest of a stream (a tar entry) is left.
	r := bytes.NewReader(append(header(26), "rest"...))
	if _, err := SchemaVersion(r); err != nil || r.Len() != 4 {
		t.Errorf("read too much: %d left, %v", r.Len(), err)
	}
	for name, in := range map[string][]byte{
		"short":     header(26)[:80],
		"empty":     nil,
		"not magic": append([]byte("SQLite format 2\x00"), make([]byte, 84)...),
		"text":      []byte(strings.Repeat("hello ", 30)),
	} {
		if _, err := SchemaVersion(bytes.NewReader(in)); !errors.Is(err, ErrNotSQLite) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestInnerVersion(t *testing.T) {
	for in, want := range map[string]string{
		"[inner]\nversion = \"7.3.5\"\n\n[bot]\nqq_account = 1\n":      "7.3.5",
		"[inner]\nversion = \"0.1.2\"\n[napcat_server]\nport = 8095\n": "0.1.2",
		"[bot]\nnickname = \"麦麦\"\n":                                   "",
		"":                                                             "",
		"[inner]\nversion = 8\n":                                       "8",
	} {
		got, err := InnerVersion([]byte(in))
		if err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	if _, err := InnerVersion([]byte("[inner\nversion=")); err == nil {
		t.Error("no error for broken TOML")
	}
	b, err := os.ReadFile("../../test/e2e/testdata/corpus/maibot-0.12/docker-config/adapters/config.toml")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := InnerVersion(b); v != "0.1.2" || err != nil {
		t.Errorf("adapter config: %q %v", v, err)
	}
}

func TestMajorAndLegacy(t *testing.T) {
	for v, want := range map[string]int{"0.12.3": 0, "v1.2.1": 1, "1.0.0-rc1": 1, "10": 10} {
		if n, ok := Major(v); !ok || n != want {
			t.Errorf("%s: %d %v", v, n, ok)
		}
	}
	for _, v := range []string{"latest", "", "dev", "sha256:abc"} {
		if _, ok := Major(v); ok {
			t.Errorf("%q has a major", v)
		}
	}
	if !CrossesLegacy("0.12.3", "1.2.1") || CrossesLegacy("1.0.0", "1.2.1") || CrossesLegacy("latest", "1.0.0") || CrossesLegacy("0.11", "0.12") {
		t.Error("CrossesLegacy")
	}
	if HasTemplates("1.0.12") || !HasTemplates("0.12.3") || !HasTemplates("latest") {
		t.Error("HasTemplates")
	}
}

func TestCheckConfirmation(t *testing.T) {
	if err := CheckConfirmation(map[string]string{LegacyUpgradeVar: "1"}); err != nil {
		t.Error(err)
	}
	for _, env := range []map[string]string{nil, {LegacyUpgradeVar: "0"}, {LegacyUpgradeVar: ""}, {"OTHER": "1"}} {
		if err := CheckConfirmation(env); !errors.Is(err, ErrNotConfirmed) || !strings.Contains(err.Error(), LegacyUpgradeVar) {
			t.Errorf("%v: %v", env, err)
		}
	}
	got := MissingAgreements(map[string]string{EULAVar: "aa", PrivacyVar: "bb", "TZ": "x"}, map[string]string{EULAVar: "cc"})
	if len(got) != 1 || got[0] != PrivacyVar {
		t.Errorf("MissingAgreements = %v", got)
	}
}

func TestHealthPreset(t *testing.T) {
	if p := HealthPreset("0.12.3"); p.ReadyLog != ReadyLog || p.WebUIPort != 0 {
		t.Errorf("0.12: %+v", p)
	}
	if p := HealthPreset("1.2.1"); p.ReadyLog != ReadyLog || p.WebUIPort != 8001 || p.WebUIPath != "/" {
		t.Errorf("1.2: %+v", p)
	}
	if p := HealthPreset("latest"); p.WebUIPort != 0 || p.ReadyLog == "" {
		t.Errorf("latest: %+v", p)
	}
}

func detectFile(t *testing.T, name string) Detection {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := ServicesFromCompose(b)
	if err != nil {
		t.Fatal(err)
	}
	return Detect(svcs)
}

func TestDetect(t *testing.T) {
	d := detectFile(t, "../composemerge/testdata/maibot-0.12-upstream.yaml")
	if !d.MaiBot || d.Era != Era0x || d.Core != "core" || d.Adapters != "adapters" {
		t.Errorf("0.12: %+v", d)
	}
	d = detectFile(t, "../composemerge/testdata/maibot-1.x-upstream.yaml")
	if !d.MaiBot || d.Era != Era1x || d.Core != "core" || d.Adapters != "" {
		t.Errorf("1.x: %+v", d)
	}
	// The corpus projects run the stand-in image: found by their mounts.
	d = detectFile(t, "../../test/e2e/testdata/corpus/maibot-0.12/compose.yaml")
	if !d.MaiBot || d.Era != Era0x || d.Core != "core" || d.Adapters != "adapters" {
		t.Errorf("corpus 0.12: %+v", d)
	}
	d = detectFile(t, "../../test/e2e/testdata/corpus/maibot-1.x/compose.yaml")
	if !d.MaiBot || d.Era != Era1x || d.Core != "core" {
		t.Errorf("corpus 1.x: %+v", d)
	}
	d = detectFile(t, "../../test/e2e/testdata/corpus/immich/compose.yaml")
	if d.MaiBot {
		t.Errorf("immich detected as MaiBot: %+v", d)
	}
	// By tag alone.
	d = Detect([]Service{{Name: "bot", Image: "docker.io/sengokucola/maibot:1.0.12"}})
	if d.Era != Era1x || d.Core != "bot" {
		t.Errorf("%+v", d)
	}
	d = Detect([]Service{{Name: "bot", Image: "sengokucola/maibot:latest"}})
	if !d.MaiBot || d.Era != "" {
		t.Errorf("latest: %+v", d)
	}
	svcs, err := ServicesFromCompose([]byte("services:\n  a:\n    image: x\n    environment: {A: '1'}\n    volumes:\n      - ${DATA:-./d}:/data:ro\n      - type: bind\n        source: ./c\n        target: /c\n"))
	if err != nil || len(svcs) != 1 || svcs[0].Env["A"] != "1" || len(svcs[0].Mounts) != 2 ||
		svcs[0].Mounts[0] != (Mount{"${DATA:-./d}", "/data"}) || svcs[0].Mounts[1] != (Mount{"./c", "/c"}) {
		t.Errorf("%+v %v", svcs, err)
	}
}
