package project

import "github.com/docker/compose/v5/pkg/api"

// The compose labels docker-maim reads, defined once for every room, as compose's own
// constants (github.com/docker/compose/v5/pkg/api): compose sets them on the containers,
// volumes and networks it creates.
const (
	LabelProject     = api.ProjectLabel         // every resource: the project's name
	LabelService     = api.ServiceLabel         // a container: its service
	LabelOneOff      = api.OneoffLabel          // a container: "True" for `compose run`
	LabelHook        = api.HookLabel            // a lifecycle-hook container: its hook ("pre_start")
	LabelConfigFiles = api.ConfigFilesLabel     // a container: the project's compose files
	LabelWorkingDir  = api.WorkingDirLabel      // a container: the project's working dir
	LabelEnvFile     = api.EnvironmentFileLabel // a container: the project's --env-file
	LabelConfigHash  = api.ConfigHashLabel      // a container or volume: the hash of its config
	LabelVolume      = api.VolumeLabel          // a volume: its name in the compose file
)
