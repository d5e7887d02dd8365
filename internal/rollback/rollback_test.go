package rollback

import (
	"reflect"
	"testing"

	"github.com/docker-maim/docker-maim/internal/backup"
)

func TestEnvFilesFor(t *testing.T) {
	m := &backup.Manifest{EnvFiles: []string{"/srv/demo/.env", "/srv/demo/prod.env", "/srv/demo/x.env"}}
	if got, want := envFilesFor(m), []string{"/srv/demo/prod.env", "/srv/demo/x.env"}; !reflect.DeepEqual(got, want) {
		t.Errorf("envFilesFor = %v, want %v", got, want)
	}
}
