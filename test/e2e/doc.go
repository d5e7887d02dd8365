// Package e2e holds docker-maim's end-to-end tests: they build the real plugin binary,
// install it into a private DOCKER_CONFIG next to the docker-compose plugin, and drive it
// through the real docker CLI (`docker maim ...`) against the real engine and the loopback
// registry that scripts/rig.sh starts.
//
// The harness (harness_test.go) is meant to be extended by later suites (upgrade, rollback):
//
//   - TestMain builds ./cmd/docker-maim once (CGO_ENABLED=0, version [TestVersion]) into
//     <tmp>/docker-config/cli-plugins, symlinks the installed docker-compose plugin beside it
//     and points DOCKER_CONFIG at that directory for the whole test binary.
//   - maim(t, dir, args...) runs `docker maim args...` in dir and returns a Result
//     (Stdout, Stderr, Code); every test gets its own MAIM_BACKUP_DIR (a project's
//     BackupDir once newProject made one), and COMPOSE_* variables never leak in.
//   - newProject wraps internal/testrig.Project: a uniquely named compose project whose
//     containers, volumes, networks and images are removed when the test ends, failed or not.
//   - compose(t, p, args...) runs `docker compose` on such a project.
//
// Tests skip when no engine answers, unless env CI is set: then they fail.
package e2e
