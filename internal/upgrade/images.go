package upgrade

import (
	"context"
	"regexp"

	"github.com/moby/moby/client"
)

// ImageInspector is the engine call InspectImage needs.
type ImageInspector interface {
	ImageInspect(ctx context.Context, imageID string, inspectOpts ...client.ImageInspectOption) (client.ImageInspectResult, error)
}

// VersionLabel is the OCI label an image states its version in.
const VersionLabel = "org.opencontainers.image.version"

// ImageInfo is what docker-maim reads of an image: its ID, repo digests, labels, version
// and environment (KEY=VALUE: a database image says its version there, dbmajor.go).
type ImageInfo struct {
	ID      string
	Digests []string
	Version string
	Labels  map[string]string
	Env     []string
}

// InspectImage reads image ref: its version is its version label (VersionLabel), else its
// reference's tag when that looks like a version. The plan reads the images it moves
// between with it, and status the images its containers run.
func InspectImage(ctx context.Context, eng ImageInspector, ref string) (ImageInfo, error) {
	ii, err := eng.ImageInspect(ctx, ref)
	if err != nil {
		return ImageInfo{}, err
	}
	info := ImageInfo{ID: ii.ID, Digests: ii.RepoDigests}
	if ii.Config != nil {
		info.Labels, info.Env = ii.Config.Labels, ii.Config.Env
		info.Version = ii.Config.Labels[VersionLabel]
	}
	if info.Version == "" {
		info.Version = tagVersion(ref)
	}
	return info, nil
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
