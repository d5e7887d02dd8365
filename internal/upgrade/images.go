package upgrade

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/moby/moby/client"
)

// VersionLabel is the OCI label an image states its version in.
const VersionLabel = "org.opencontainers.image.version"

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

type imageInfo struct {
	ID      string
	Digests []string
	Version string
	Labels  map[string]string
}

func inspectImage(ctx context.Context, eng ImageEngine, ref string) (imageInfo, error) {
	ii, err := eng.ImageInspect(ctx, ref)
	if err != nil {
		return imageInfo{}, err
	}
	info := imageInfo{ID: ii.ID, Digests: ii.RepoDigests}
	if ii.Config != nil {
		info.Labels = ii.Config.Labels
		info.Version = ii.Config.Labels[VersionLabel]
	}
	if info.Version == "" {
		info.Version = tagVersion(ref)
	}
	return info, nil
}

// pull pulls ref and waits for the pull to finish.
func pull(ctx context.Context, eng ImageEngine, ref, auth string) error {
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

var tagRe = regexp.MustCompile(`:([^:/@]+)(@sha256:[0-9a-f]+)?$`)

// tagVersion is the tag of a reference when it looks like a version ("1.2.3", "v1.2").
func tagVersion(ref string) string {
	m := tagRe.FindStringSubmatch(ref)
	if m == nil {
		return ""
	}
	if _, ok := parseSemver(m[1]); ok {
		return m[1]
	}
	return ""
}

// pinRef is the tag that keeps a service's previous image for a backup.
func pinRef(project, service, backupID string) string {
	return fmt.Sprintf("%s:%s.%s.%s", PinRepo, sanitizeTag(project), sanitizeTag(service), backupID)
}

var tagUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

func sanitizeTag(s string) string { return tagUnsafe.ReplaceAllString(s, "_") }

// pinImages tags each old image so it survives pruning and can be re-pinned on rollback.
func pinImages(ctx context.Context, eng ImageEngine, project, backupID string, changes []ImageChange) ([]ImageChange, error) {
	for i := range changes {
		c := &changes[i]
		if c.OldID == "" {
			continue
		}
		ref := pinRef(project, c.Service, backupID)
		if _, err := eng.ImageTag(ctx, client.ImageTagOptions{Source: c.OldID, Target: ref}); err != nil {
			return changes, fmt.Errorf("pinning the image of %s: %w", c.Service, err)
		}
		c.Pin = ref
	}
	return changes, nil
}

// repoint makes ref name the image id locally (a floating tag like :latest that a pull
// moved on is put back on the old image).
func repoint(ctx context.Context, eng ImageEngine, id, ref string) error {
	if ref == "" || id == "" {
		return nil
	}
	if cur, err := eng.ImageInspect(ctx, ref); err == nil && cur.ID == id {
		return nil
	}
	_, err := eng.ImageTag(ctx, client.ImageTagOptions{Source: id, Target: ref})
	return err
}

// ensureImage makes sure image id is present, pulling by digest if it is gone.
func ensureImage(ctx context.Context, eng ImageEngine, id string, digests []string, auth func(string) string) error {
	if _, err := eng.ImageInspect(ctx, id); err == nil {
		return nil
	}
	for _, d := range digests {
		a := ""
		if auth != nil {
			a = auth(d)
		}
		if err := pull(ctx, eng, d, a); err == nil {
			if _, err := eng.ImageInspect(ctx, id); err == nil {
				return nil
			}
		}
	}
	return fmt.Errorf("image %s is gone and could not be pulled by digest (%s)", shortID(id), strings.Join(digests, ", "))
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
