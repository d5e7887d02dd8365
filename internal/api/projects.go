package api

// ProjectsOptions tune Projects (nothing yet: every project on the engine is listed).
type ProjectsOptions struct{}

// ProjectsResult is every Compose project that has containers on the engine.
type ProjectsResult struct {
	// Projects sorted by name.
	Projects []ProjectSummary `json:"projects"`
}

// ProjectSummary is one Compose project as its containers' labels describe it.
type ProjectSummary struct {
	// Name of the project.
	Name string `json:"name"`
	// WorkingDir is the project directory its containers record.
	WorkingDir string `json:"working_dir,omitempty"`
	// ConfigFiles are the compose files its containers record.
	ConfigFiles []string `json:"config_files,omitempty"`
	// Services that have containers, sorted.
	Services []string `json:"services"`
	// Containers counts its containers; Running those that run.
	Containers int `json:"containers"`
	Running    int `json:"running"`
	// Known: docker-maim has a state directory for it on this engine (it has run a verb on it).
	Known bool `json:"known"`
}
