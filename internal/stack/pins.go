package stack

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/docker-maim/docker-maim/internal/journal"
	"github.com/moby/moby/client"
)

// PinRepo is the local repository that holds the tool's pins of previous images, so a
// rollback never depends on a registry and `docker image prune -a` keeps them.
const PinRepo = "docker-maim/pin"

// ImageEngine is what image handling needs from the engine.
type ImageEngine interface {
	ImagePull(ctx context.Context, ref string, options client.ImagePullOptions) (client.ImagePullResponse, error)
	ImageInspect(ctx context.Context, imageID string, inspectOpts ...client.ImageInspectOption) (client.ImageInspectResult, error)
	ImageTag(ctx context.Context, options client.ImageTagOptions) (client.ImageTagResult, error)
	ImageRemove(ctx context.Context, image string, options client.ImageRemoveOptions) (client.ImageRemoveResult, error)
}

// Pull pulls ref and waits for the pull to finish.
func Pull(ctx context.Context, eng ImageEngine, ref, auth string) error {
	resp, err := eng.ImagePull(ctx, ref, client.ImagePullOptions{RegistryAuth: auth})
	if err != nil {
		return err
	}
	defer resp.Close()
	for msg, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return err
		}
		if msg.Error != nil {
			return errors.New(msg.Error.Message)
		}
	}
	return nil
}

// PinRef is the tag that keeps a service's previous image for a backup.
func PinRef(project, service, backupID string) string {
	return fmt.Sprintf("%s:%s.%s.%s", PinRepo, sanitizeTag(project), sanitizeTag(service), backupID)
}

var tagUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

func sanitizeTag(s string) string { return tagUnsafe.ReplaceAllString(s, "_") }

// PinImages tags each old image so it survives pruning and can be re-pinned on rollback.
func PinImages(ctx context.Context, eng ImageEngine, project, backupID string, changes []journal.ImageChange) ([]journal.ImageChange, error) {
	for i := range changes {
		c := &changes[i]
		if c.OldID == "" {
			continue
		}
		ref := PinRef(project, c.Service, backupID)
		if _, err := eng.ImageTag(ctx, client.ImageTagOptions{Source: c.OldID, Target: ref}); err != nil {
			return changes, fmt.Errorf("pinning the image of %s: %w", c.Service, err)
		}
		c.Pin = ref
	}
	return changes, nil
}

// Repoint makes ref name the image id locally (a floating tag like :latest that a pull
// moved on is put back on the old image).
func Repoint(ctx context.Context, eng ImageEngine, id, ref string) error {
	if ref == "" || id == "" {
		return nil
	}
	if cur, err := eng.ImageInspect(ctx, ref); err == nil && cur.ID == id {
		return nil
	}
	_, err := eng.ImageTag(ctx, client.ImageTagOptions{Source: id, Target: ref})
	return err
}

// EnsureImage makes sure image id is present, pulling by digest if it is gone.
func EnsureImage(ctx context.Context, eng ImageEngine, id string, digests []string, auth func(string) string) error {
	if _, err := eng.ImageInspect(ctx, id); err == nil {
		return nil
	}
	for _, d := range digests {
		a := ""
		if auth != nil {
			a = auth(d)
		}
		if err := Pull(ctx, eng, d, a); err == nil {
			if _, err := eng.ImageInspect(ctx, id); err == nil {
				return nil
			}
		}
	}
	return fmt.Errorf("image %s is gone and could not be pulled by digest (%s)", ShortID(id), strings.Join(digests, ", "))
}

func ShortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
