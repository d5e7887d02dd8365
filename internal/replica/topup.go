package replica

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"

	"github.com/docker-maim/docker-maim/internal/backup"
)

// TopUp copies to the remote the files added to local backup id after its copy (an
// upgrade writes its config-merge report and a release's compose files into its backup
// once the backup is complete, while or after the copy runs) and rewrites the remote
// manifest to record them. A backup not complete on the remote is left to Copy. It returns
// how many files it sent.
func TopUp(ctx context.Context, local, remote backup.Store, project, id string, opts CopyOptions) (int, error) {
	root := local.LocalRoot()
	if root == "" {
		return 0, errNotLocal
	}
	le, err := local.Get(project, id)
	if err != nil {
		return 0, err
	}
	re, err := remote.Get(project, id)
	if err != nil {
		return 0, err
	}
	if err := le.CheckComplete(); err != nil {
		return 0, err
	}
	if err := re.CheckComplete(); err != nil {
		return 0, err
	}
	c := &copier{ctx: ctx, remote: remote.Repo, project: project, id: id, dir: filepath.Join(root, project, id), opts: opts}
	files, _, err := c.files(le.Manifest)
	if err != nil {
		return 0, err
	}
	stored := maps.Clone(re.Manifest.Stored)
	if stored == nil {
		stored = map[string]backup.StoredFile{}
	}
	added := 0
	for _, f := range files {
		if _, ok := stored[f.name]; ok || f.sha256 != "" { // there already, or an archive
			continue
		}
		sf, err := c.one(f)
		if err != nil {
			return added, fmt.Errorf("copying %s of backup %s to %s: %w", f.name, id, opts.Name, err)
		}
		stored[f.name] = sf
		added++
	}
	if added == 0 {
		return 0, nil
	}
	m := *re.Manifest
	m.Stored = stored
	b, err := json.MarshalIndent(&m, "", "  ")
	if err != nil {
		return added, err
	}
	return added, put(remote.Repo, project, id, backup.ManifestName, append(b, '\n'))
}
