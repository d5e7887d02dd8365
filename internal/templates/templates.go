// Package templates reads a file out of an image without running it: a config template the
// merge planner (internal/config's Prepare) needs from the new version's image, or MaiBot's
// i18n catalog for its health gate. It owns the template-read container (created, never
// started, network off, labelled volume.LabelHelper=volume.LabelValueTemplateRead) and its
// removal, and the clean-up of those a killed docker-maim left behind. What to read, and
// what to do with the bytes, is the caller's: internal/config stays a pure merge engine.
package templates

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker-maim/docker-maim/internal/config"
	"github.com/docker-maim/docker-maim/internal/volume"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Engine is the part of the engine API FromImage needs; *client.Client implements it.
type Engine interface {
	ContainerCreate(ctx context.Context, options client.ContainerCreateOptions) (client.ContainerCreateResult, error)
	CopyFromContainer(ctx context.Context, containerID string, options client.CopyFromContainerOptions) (client.CopyFromContainerResult, error)
	ContainerRemove(ctx context.Context, containerID string, options client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
}

// MaxSize bounds how much of a template file is read.
const MaxSize = 16 << 20

// StaleRead is how much older than a new template-read container a leftover one must
// be (by the engine's own clock, in its creation times) before FromImage removes it.
// A read takes seconds; only a docker-maim that died mid-read leaves one that old, and a
// younger one may belong to a live docker-maim working on another project.
const StaleRead = 10 * time.Minute

// Reader reads templates out of images through Engine: it is the config.ImageReader that
// config.Prepare and config.LoadTemplate take.
type Reader struct{ Engine Engine }

// ReadImageFile is FromImage with r's engine.
func (r Reader) ReadImageFile(ctx context.Context, image, filePath string) ([]byte, error) {
	return FromImage(ctx, r.Engine, image, filePath)
}

// FromImage reads the regular file at filePath inside image without
// running the image: it creates a container (never started, network off),
// copies the file out through the archive API, and removes the container and
// its anonymous volumes — always, even when ctx is cancelled. A symbolic link
// is followed (inside the image) up to 8 times. The image must be present
// locally. A missing file gives an error wrapping config.ErrTemplateNotFound.
//
// The container carries docker-maim's one helper label, volume.LabelHelper, with the value
// volume.LabelValueTemplateRead. A docker-maim killed mid-read cannot remove its container,
// so each read also removes, best effort, the template-read containers that were created
// StaleRead or more before its own (they pin the image and hold its anonymous volumes).
func FromImage(ctx context.Context, cli Engine, image, filePath string) ([]byte, error) {
	if image == "" || filePath == "" {
		return nil, errors.New("template from image: image and path are required")
	}
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{
			Image: image,
			// Create needs a command even though the container never starts.
			Cmd:             []string{"/docker-maim-template-read"},
			Entrypoint:      []string{},
			NetworkDisabled: true,
			Labels:          map[string]string{volume.LabelHelper: volume.LabelValueTemplateRead},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s from image %s: creating a container: %w", filePath, image, err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = cli.ContainerRemove(rctx, created.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	}()
	removeStaleTemplateReads(ctx, cli, created.ID)

	p := path.Clean("/" + filePath)
	for hops := 0; ; hops++ {
		data, link, err := copyOneFile(ctx, cli, created.ID, p)
		if err != nil {
			if cerrdefs.IsNotFound(err) {
				return nil, fmt.Errorf("%w: %s in image %s", config.ErrTemplateNotFound, filePath, image)
			}
			return nil, fmt.Errorf("reading %s from image %s: %w", filePath, image, err)
		}
		if link == "" {
			return data, nil
		}
		if hops >= 8 {
			return nil, fmt.Errorf("reading %s from image %s: too many symbolic links", filePath, image)
		}
		if path.IsAbs(link) {
			p = path.Clean(link)
		} else {
			p = path.Join(path.Dir(p), link)
		}
	}
}

// removeStaleTemplateReads removes the template-read containers created StaleRead or
// more before own, the read's own container (leftovers of a docker-maim that died mid-read).
// Errors are ignored: a leftover is clutter, never a reason to fail a read.
func removeStaleTemplateReads(ctx context.Context, cli Engine, own string) {
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", volume.LabelHelper+"="+volume.LabelValueTemplateRead)})
	if err != nil {
		return
	}
	var now int64 = -1 // the creation time of own, in the engine's clock
	for _, c := range res.Items {
		if c.ID == own {
			now = c.Created
		}
	}
	if now < 0 {
		return
	}
	for _, c := range res.Items {
		if c.ID != own && now-c.Created >= int64(StaleRead/time.Second) {
			_, _ = cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		}
	}
}

// copyOneFile returns the content of the file at p, or the target of the
// symbolic link at p (volume.OneFile reads the engine's archive of it).
func copyOneFile(ctx context.Context, cli Engine, id, p string) (data []byte, link string, err error) {
	res, err := cli.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: p})
	if err != nil {
		return nil, "", err
	}
	defer res.Content.Close()
	return volume.OneFile(res.Content, p, MaxSize)
}
