package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
)

// eventLog records the engine's container events live, from a subscription made before the
// action under test. Reading them back afterwards (Since/Until) is not enough: the engine
// keeps only its last 256 events for that, shared by every parallel test and every health
// check's exec, so under load the ones a test needs have already fallen out.
type eventLog struct {
	t        testing.TB
	cli      client.APIClient
	cancel   context.CancelFunc
	sentinel string
	done     chan struct{}
	mu       sync.Mutex
	msgs     []events.Message
	err      error
}

// recordEvents subscribes to the engine's container events (and volume events: the
// sentinel that ends the log is a volume) and records them in the engine's order. The
// subscription is in place when it returns (the client waits for the response's headers).
func recordEvents(t testing.TB, cli client.APIClient) *eventLog {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	ctx, cancel := context.WithCancel(context.Background())
	l := &eventLog{t: t, cli: cli, cancel: cancel, sentinel: "maimtest-evlog-" + hex.EncodeToString(b[:]), done: make(chan struct{})}
	res := cli.Events(ctx, client.EventsListOptions{Filters: make(client.Filters).Add("type", "container", "volume")})
	go func() {
		defer close(l.done)
		for {
			select {
			case m := <-res.Messages:
				if m.Type == events.VolumeEventType {
					if m.Actor.ID == l.sentinel && m.Action == events.ActionCreate {
						return
					}
					continue
				}
				l.mu.Lock()
				l.msgs = append(l.msgs, m)
				l.mu.Unlock()
			case err := <-res.Err:
				l.mu.Lock()
				l.err = err
				l.mu.Unlock()
				return
			}
		}
	}()
	t.Cleanup(func() { l.cancel(); <-l.done })
	return l
}

// stop ends the log and returns the container events it recorded: every event the engine
// emitted before stop was called is among them (stop creates a sentinel volume and reads
// on until its create event, which the engine emits after all of those).
func (l *eventLog) stop() []events.Message {
	l.t.Helper()
	ctx := context.Background()
	if _, err := l.cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: l.sentinel}); err != nil {
		l.t.Fatalf("events: creating the sentinel volume: %v", err)
	}
	defer func() { _, _ = l.cli.VolumeRemove(ctx, l.sentinel, client.VolumeRemoveOptions{Force: true}) }()
	select {
	case <-l.done:
	case <-time.After(2 * time.Minute):
		l.t.Fatalf("events: the sentinel volume's create never arrived")
	}
	l.cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil && !strings.Contains(l.err.Error(), "EOF") {
		l.t.Fatalf("events: %v", l.err)
	}
	return append([]events.Message(nil), l.msgs...)
}
