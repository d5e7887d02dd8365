package upgrade

import "context"

// rollbackGate waits for what ran at the backup (every service when the backup does not
// say) to prove healthy; a MaiBot core on its ready banner (gate_maibot.go).
var rollbackGate = phase[*rtxn]{
	Name:     "gate",
	Journal:  PhaseRollingBack,
	Describe: func(*rtxn) string { return "wait for what ran to prove healthy" },
	Run: func(ctx context.Context, t *rtxn) error {
		running := t.man.Running
		if len(running) == 0 {
			running = t.target.ServiceNames()
		}
		return t.m.gateServices(ctx, t.target, running, t.m.maibotGateFor(ctx, t.target, running, t.opts.Health, recordedSchema(t.man)))
	},
}
