package health

import (
	"fmt"
	"strconv"

	"github.com/compose-spec/compose-go/v2/types"
)

// ExtensionKey is the compose service extension docker-maim reads.
const ExtensionKey = "x-maim"

// ServiceExtension is what the health gate reads from a service's `x-maim` extension:
//
//	services:
//	  core:
//	    x-maim:
//	      ready_log: "bot ready"   # a substring that must appear in the logs since start
//	      one_shot: true          # must run to completion and exit 0
//
// Other keys under x-maim belong to other parts of docker-maim and are ignored here.
type ServiceExtension struct {
	ReadyLog string
	OneShot  bool
}

// ParseExtension reads ready_log and one_shot from a service's extensions
// (types.ServiceConfig.Extensions). A missing x-maim is the zero value. A wrong type is an
// error; one_shot also accepts the strings "true" / "false" (env interpolation yields strings).
func ParseExtension(ext map[string]any) (ServiceExtension, error) {
	var out ServiceExtension
	raw, ok := ext[ExtensionKey]
	if !ok || raw == nil {
		return out, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return out, fmt.Errorf("%s must be a mapping, not %T", ExtensionKey, raw)
	}
	if v, ok := m["ready_log"]; ok && v != nil {
		s, ok := v.(string)
		if !ok {
			return out, fmt.Errorf("%s.ready_log must be a string, not %T", ExtensionKey, v)
		}
		out.ReadyLog = s
	}
	if v, ok := m["one_shot"]; ok && v != nil {
		switch b := v.(type) {
		case bool:
			out.OneShot = b
		case string:
			pb, err := strconv.ParseBool(b)
			if err != nil {
				return out, fmt.Errorf("%s.one_shot: %q is not a boolean", ExtensionKey, b)
			}
			out.OneShot = pb
		default:
			return out, fmt.Errorf("%s.one_shot must be a boolean, not %T", ExtensionKey, v)
		}
	}
	return out, nil
}

// FromProject returns base with ReadyLog and OneShot filled from the x-maim extensions of
// the project's services (entries already in base win). Services in base.Services that the
// project does not define are an error.
func FromProject(p *types.Project, base Options) (Options, error) {
	out := base
	out.ReadyLog = map[string]string{}
	out.OneShot = map[string]bool{}
	for name, svc := range p.Services {
		ext, err := ParseExtension(svc.Extensions)
		if err != nil {
			return base, fmt.Errorf("service %s: %w", name, err)
		}
		if ext.ReadyLog != "" {
			out.ReadyLog[name] = ext.ReadyLog
		}
		if ext.OneShot {
			out.OneShot[name] = true
		}
	}
	for k, v := range base.ReadyLog {
		out.ReadyLog[k] = v
	}
	for k, v := range base.OneShot {
		out.OneShot[k] = v
	}
	for _, s := range base.Services {
		if _, ok := p.Services[s]; !ok {
			return base, fmt.Errorf("health gate: no service %q in project %s", s, p.Name)
		}
	}
	return out, nil
}
