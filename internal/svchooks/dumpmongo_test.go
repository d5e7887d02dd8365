package svchooks

import (
	"testing"
)

// The x-maim dump key takes mongo (stack-back has no MongoDB label, so no label does); a
// stack-back.mongo label is no dump request.
func TestDumpKeyMongo(t *testing.T) {
	h, err := one(t, nil, map[string]any{ExtensionKey: map[string]any{KeyDump: "mongo"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Dumps) != 1 || h.Dumps[0].Kind != "mongo" || h.Dumps[0].Service != "db" || h.Dumps[0].From != ExtensionKey+"."+KeyDump {
		t.Errorf("dumps = %+v, want one mongo dump of db from the x-maim key", h.Dumps)
	}
	h, err = one(t, map[string]string{LabelStackBack + "mongo": "true"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Dumps) != 0 {
		t.Errorf("stack-back.mongo asked for %+v: stack-back has no such label", h.Dumps)
	}
}
