package plugin

import (
	_ "github.com/docker/cli/cli-plugins/plugin"
	_ "github.com/docker/compose/v5/pkg/compose"
	_ "github.com/moby/moby/client"
)

func Main() int { return 0 }
