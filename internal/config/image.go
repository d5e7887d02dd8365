package config

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker-maim/docker-maim/internal/volume"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// ImageFileReader is the part of the engine API TemplateFromImage needs;
// *client.Client implements it.
type ImageFileReader interface {
	ContainerCreate(ctx context.Context, options client.ContainerCreateOptions) (client.ContainerCreateResult, error)
	CopyFromContainer(ctx context.Context, containerID string, options client.CopyFromContainerOptions) (client.CopyFromContainerResult, error)
	ContainerRemove(ctx context.Context, containerID string, options client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
}

// ErrTemplateNotFound is wrapped by TemplateFromImage when the image has no
// file at the path (or by LoadTemplate when a host template is missing).
var ErrTemplateNotFound = errors.New("template not found")

// MaxTemplateSize bounds how much of a template file is read.
const MaxTemplateSize = 16 << 20

// StaleTemplateRead is how much older than a new template-read container a leftover one must
// be (by the engine's own clock, in its creation times) before TemplateFromImage removes it.
// A read takes seconds; only a docker-maim that died mid-read leaves one that old, and a
// younger one may belong to a live docker-maim working on another project.
const StaleTemplateRead = 10 * time.Minute

// TemplateFromImage reads the regular file at filePath inside image without
// running the image: it creates a container (never started, network off),
// copies the file out through the archive API, and removes the container and
// its anonymous volumes — always, even when ctx is cancelled. A symbolic link
// is followed (inside the image) up to 8 times. The image must be present
// locally. A missing file gives an error wrapping ErrTemplateNotFound.
//
// The container carries docker-maim's one helper label, volume.LabelHelper, with the value
// volume.LabelValueTemplateRead. A docker-maim killed mid-read cannot remove its container,
// so each read also removes, best effort, the template-read containers that were created
// StaleTemplateRead or more before its own (they pin the image and hold its anonymous volumes).
func TemplateFromImage(ctx context.Context, cli ImageFileReader, image, filePath string) ([]byte, error) {
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
				return nil, fmt.Errorf("%w: %s in image %s", ErrTemplateNotFound, filePath, image)
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

// removeStaleTemplateReads removes the template-read containers created StaleTemplateRead or
// more before own, the read's own container (leftovers of a docker-maim that died mid-read).
// Errors are ignored: a leftover is clutter, never a reason to fail a read.
func removeStaleTemplateReads(ctx context.Context, cli ImageFileReader, own string) {
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
		if c.ID != own && now-c.Created >= int64(StaleTemplateRead/time.Second) {
			_, _ = cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		}
	}
}

// copyOneFile returns the content of the file at p, or the target of the
// symbolic link at p.
func copyOneFile(ctx context.Context, cli ImageFileReader, id, p string) (data []byte, link string, err error) {
	res, err := cli.CopyFromContainer(ctx, id, client.CopyFromContainerOptions{SourcePath: p})
	if err != nil {
		return nil, "", err
	}
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil, "", fmt.Errorf("the archive for %s holds no file", p)
		}
		if err != nil {
			return nil, "", fmt.Errorf("reading the archive for %s: %w", p, err)
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			if hdr.Size > MaxTemplateSize {
				return nil, "", fmt.Errorf("%s is %d bytes, more than the %d a template may have", p, hdr.Size, MaxTemplateSize)
			}
			data, err := io.ReadAll(io.LimitReader(tr, MaxTemplateSize+1))
			if err != nil {
				return nil, "", fmt.Errorf("reading %s: %w", p, err)
			}
			return data, "", nil
		case tar.TypeSymlink:
			return nil, hdr.Linkname, nil
		case tar.TypeDir:
			return nil, "", fmt.Errorf("%s is a directory, not a file", p)
		default:
			return nil, "", fmt.Errorf("%s is not a regular file (tar type %q)", p, hdr.Typeflag)
		}
	}
}
