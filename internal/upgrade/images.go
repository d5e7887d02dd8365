package upgrade

import (
	"context"
	"regexp"

	"github.com/docker-maim/docker-maim/internal/stack"
)

// VersionLabel is the OCI label an image states its version in.
const VersionLabel = "org.opencontainers.image.version"

type imageInfo struct {
	ID      string
	Digests []string
	Version string
	Labels  map[string]string
}

func inspectImage(ctx context.Context, eng stack.ImageEngine, ref string) (imageInfo, error) {
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
