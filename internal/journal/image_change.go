package journal

import "strings"

// ImageChange is one service's image before and after.
type ImageChange struct {
	Service    string   `json:"service"`
	OldRef     string   `json:"old_ref"`
	OldID      string   `json:"old_id,omitempty"`
	OldDigests []string `json:"old_digests,omitempty"`
	OldVersion string   `json:"old_version,omitempty"`
	NewRef     string   `json:"new_ref"`
	NewID      string   `json:"new_id,omitempty"`
	NewDigests []string `json:"new_digests,omitempty"`
	NewVersion string   `json:"new_version,omitempty"`
	// Labels of the new image (breaking-change declarations live there).
	NewLabels map[string]string `json:"-"`
	// Pin is the local tag that keeps the old image.
	Pin string `json:"pin,omitempty"`
}

// Changed tells whether the service will run another image.
func (c ImageChange) Changed() bool { return c.NewID != "" && c.NewID != c.OldID }

// From and To are short human forms ("ref (version)").
func (c ImageChange) From() string { return refVersion(c.OldRef, c.OldVersion) }
func (c ImageChange) To() string   { return refVersion(c.NewRef, c.NewVersion) }

func refVersion(ref, v string) string {
	if v == "" || strings.HasSuffix(ref, ":"+v) {
		return ref
	}
	return ref + " (" + v + ")"
}
