package app

import (
	"slices"
	"testing"
)

// TestScheduleEnv: a scheduled run carries the engine and docker-maim settings set now,
// the docker context only a flag named when DOCKER_HOST does not decide, and HOME for a
// system unit only; unset and empty variables are left out.
func TestScheduleEnv(t *testing.T) {
	for _, k := range carriedEnv {
		t.Setenv(k, "")
	}
	t.Setenv("DOCKER_CONFIG", "/home/me/.docker")
	t.Setenv("MAIM_STATE_DIR", "/st")
	t.Setenv("HOME", "/home/me")
	got := scheduleEnv("remote", false)
	if want := []string{"DOCKER_CONTEXT=remote", "DOCKER_CONFIG=/home/me/.docker", "MAIM_STATE_DIR=/st"}; !slices.Equal(got, want) {
		t.Errorf("user: %q, want %q", got, want)
	}
	t.Setenv("DOCKER_HOST", "tcp://h:2376")
	got = scheduleEnv("remote", true)
	if want := []string{"DOCKER_HOST=tcp://h:2376", "DOCKER_CONFIG=/home/me/.docker", "MAIM_STATE_DIR=/st", "HOME=/home/me"}; !slices.Equal(got, want) {
		t.Errorf("system, DOCKER_HOST: %q, want %q", got, want)
	}
	if logName("my-bot_1") != "my-bot_1" || logName("../x") != `\x2e.-x` {
		t.Errorf("logName: %q %q", logName("my-bot_1"), logName("../x"))
	}
}
