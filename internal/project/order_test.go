package project

import (
	"reflect"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

func TestOrderDependsOnChainsAndTiesByName(t *testing.T) {
	p := loadYAML(t, `
services:
  web:
    image: web
    depends_on: [api]
  api:
    image: api
    depends_on:
      db:
        condition: service_started
      cache:
        condition: service_started
  db:
    image: db
  cache:
    image: cache
  zeta:
    image: zeta
  alpha:
    image: alpha
`, nil)
	got, err := p.Order()
	if err != nil {
		t.Fatal(err)
	}
	// alpha first (no deps, smallest name); api's deps cache, db by name before api;
	// web after api; zeta last.
	want := []string{"alpha", "cache", "db", "api", "web", "zeta"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Order() = %v, want %v", got, want)
	}
	// stable: the same order every time (map iteration must not leak in)
	for i := 0; i < 20; i++ {
		again, _ := p.Order()
		if !reflect.DeepEqual(again, want) {
			t.Fatalf("run %d: Order() = %v, want %v", i, again, want)
		}
	}
}

func TestOrderNetworkModeVolumesFromAndLinks(t *testing.T) {
	// compose-go adds network_mode: service:X, volumes_from: X and links: X to depends_on.
	p := loadYAML(t, `
services:
  a-sidecar:
    image: s
    network_mode: "service:z-vpn"
  b-reader:
    image: r
    volumes_from: ["y-data:ro"]
  c-linked:
    image: l
    links: ["x-db:database"]
  x-db:
    image: db
  y-data:
    image: d
  z-vpn:
    image: v
`, nil)
	got, err := p.Order()
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, n := range got {
		pos[n] = i
	}
	for _, dep := range [][2]string{{"z-vpn", "a-sidecar"}, {"y-data", "b-reader"}, {"x-db", "c-linked"}} {
		if pos[dep[0]] > pos[dep[1]] {
			t.Errorf("%s must come before %s: %v", dep[0], dep[1], got)
		}
	}
	want := []string{"z-vpn", "a-sidecar", "y-data", "b-reader", "x-db", "c-linked"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Order() = %v, want %v", got, want)
	}
}

func TestOrderCycleIsAnError(t *testing.T) {
	// compose-go refuses cycles while loading; Order must refuse them too for a model
	// built another way.
	p := &Project{Project: &types.Project{Name: "demo", Services: types.Services{
		"a": svc("a", "b"),
		"b": svc("b", "c"),
		"c": svc("c", "a"),
		"d": svc("d"),
	}}}
	got, err := p.Order()
	if err == nil {
		t.Fatalf("Order() = %v, want a cycle error", got)
	}
	if !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("error %q does not say cycle", err)
	}
	for _, n := range []string{"a", "b", "c"} {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not name %s", err, n)
		}
	}

	self := &Project{Project: &types.Project{Name: "demo", Services: types.Services{
		"a": svc("a", "a"),
	}}}
	if _, err := self.Order(); err == nil {
		t.Fatal("a service depending on itself must be a cycle")
	}
}

func TestOrderSkipsServicesDisabledByProfile(t *testing.T) {
	yaml := `
services:
  app:
    image: app
    depends_on:
      db:
        condition: service_started
      debug:
        condition: service_started
        required: false
  db:
    image: db
  debug:
    image: debug
    profiles: [dev]
`
	p := loadYAML(t, yaml, nil)
	if _, ok := p.Services["debug"]; ok {
		t.Fatal("test setup: debug should be disabled without the dev profile")
	}
	got, err := p.Order()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"db", "app"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Order() = %v, want %v", got, want)
	}

	dev := loadYAML(t, yaml, nil, "dev")
	got, err = dev.Order()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"db", "debug", "app"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("with --profile dev: Order() = %v, want %v", got, want)
	}
}

func TestOrderIgnoresUnknownDependencyInHandBuiltModel(t *testing.T) {
	p := &Project{Project: &types.Project{Name: "demo", Services: types.Services{
		"b": svc("b", "gone"),
		"a": svc("a", "b"),
	}}}
	got, err := p.Order()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"b", "a"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Order() = %v, want %v", got, want)
	}
}

// svc is a service named name that depends on deps.
func svc(name string, deps ...string) types.ServiceConfig {
	s := types.ServiceConfig{Name: name}
	if len(deps) > 0 {
		s.DependsOn = types.DependsOnConfig{}
		for _, d := range deps {
			s.DependsOn[d] = types.ServiceDependency{Condition: types.ServiceConditionStarted, Required: true}
		}
	}
	return s
}
