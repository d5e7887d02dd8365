package journal

import maim "github.com/docker-maim/docker-maim/internal/api"

// ImageChange is one service's image before and after (api.ImageChange: the plan and
// the journal show it).
type ImageChange = maim.ImageChange
