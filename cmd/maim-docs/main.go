// Command maim-docs writes the command reference, docs/reference/*.md, from the commands
// themselves (internal/plugin) with docker's cli-docs-tool, as docker/cli, compose and
// buildx generate theirs: one page a command with its description, subcommands and options
// (the tool's part, between its markers), and around it the usage line, the examples and
// a pointer to the project options, also taken from the commands. Every page is
// generated: `make docs` rewrites them, and a test fails when they are out of date.
//
//	go run ./cmd/maim-docs [DIR]   (default docs/reference)
package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker-maim/docker-maim/internal/plugin"
	clidocstool "github.com/docker/cli-docs-tool"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func main() {
	dir := "docs/reference"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if err := write(dir); err != nil {
		fmt.Fprintln(os.Stderr, "maim-docs:", err)
		os.Exit(1)
	}
}

// write puts the reference into dir: every page rewritten, and every other .md file
// there (a page of a command that is gone) removed.
func write(dir string) error {
	pages, err := render()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if _, ok := pages[filepath.Base(f)]; !ok {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
	}
	for name, b := range pages {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// render generates every page, by file name. The tool adds a command's inherited flags to
// its options table, and the project options are persistent flags of the root; so, to
// list them once as the help does, the root's page comes from a tree where they are
// visible and every other page from one where they are hidden (and point to the root's).
func render() (map[string][]byte, error) {
	withProject, err := renderTree(false)
	if err != nil {
		return nil, err
	}
	pages, err := renderTree(true)
	if err != nil {
		return nil, err
	}
	root := rootPage()
	if withProject[root] == nil || pages[root] == nil {
		return nil, fmt.Errorf("no page %s", root)
	}
	pages[root] = withProject[root]
	return pages, nil
}

// rootPage is the name of the maim root's page.
func rootPage() string {
	_, root := newTree()
	return mdFilename(root)
}

// newTree is the command tree as the docker CLI runs it: maim below a root named docker.
func newTree() (docker, root *cobra.Command) {
	docker = &cobra.Command{Use: "docker", DisableAutoGenTag: true}
	root = plugin.NewRootCommand(nil, nil) // never run: no docker CLI, no service
	docker.AddCommand(root)
	return docker, root
}

// renderTree generates the pages of a fresh tree, the project options hidden or not. The
// tool writes into a directory of its own each time (it copies a page's source over an
// existing target without truncating it).
func renderTree(hideProject bool) (map[string][]byte, error) {
	tmp, err := os.MkdirTemp("", "maim-docs-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	src, out := filepath.Join(tmp, "src"), filepath.Join(tmp, "out")
	if err := os.Mkdir(src, 0o755); err != nil {
		return nil, err
	}
	docker, root := newTree()
	if err := writeSources(src, root); err != nil { // before the project options are hidden
		return nil, err
	}
	if hideProject {
		for _, f := range plugin.ProjectFlags(root) {
			f.Hidden = true // the one flag, in the root's and every inheriting flag set
		}
	}
	tool, err := clidocstool.New(clidocstool.Options{Root: docker, SourceDir: src, TargetDir: out, Plugin: true})
	if err != nil {
		return nil, err
	}
	logOut := log.Writer()
	log.SetOutput(io.Discard) // the tool logs a line a page
	err = tool.GenMarkdownTree(docker)
	log.SetOutput(logOut)
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(out, "*.md"))
	if err != nil {
		return nil, err
	}
	pages := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		pages[filepath.Base(f)] = b
	}
	if len(pages) == 0 {
		return nil, errors.New("no page generated")
	}
	return pages, nil
}

// mdFilename is the tool's name for a command's page: its path without the first word,
// words joined by "_" (maim_config_merge.md).
func mdFilename(c *cobra.Command) string {
	_, path, _ := strings.Cut(c.CommandPath(), " ")
	return strings.ReplaceAll(path, " ", "_") + ".md"
}

// writeSources writes the source of each page the tool fills in: the title, the usage
// line, the tool's markers, the pointer to the project options and the examples.
func writeSources(dir string, c *cobra.Command) error {
	for _, sub := range c.Commands() {
		if err := writeSources(dir, sub); err != nil {
			return err
		}
	}
	if c.Hidden {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", c.CommandPath())
	b.WriteString("<!-- Generated from the commands by `make docs` (cmd/maim-docs); edit the commands, not this file. -->\n\n")
	fmt.Fprintf(&b, "```text\n%s\n```\n\n", c.UseLine())
	b.WriteString("<!---MARKER_GEN_START-->\n<!---MARKER_GEN_END-->\n")
	if c.Annotations[plugin.ProjectOptionsAnnotation] != "" {
		var names []string
		for _, f := range plugin.ProjectFlags(c) {
			names = append(names, "`"+flagName(f)+"`")
		}
		root := c
		for root.Parent() != nil && root.Parent().HasParent() {
			root = root.Parent()
		}
		fmt.Fprintf(&b, "\n### Project options\n\n%s (before or after the command): [%s](%s#options) describes them.\n",
			strings.Join(names, ", "), root.CommandPath(), mdFilename(root))
	}
	if ex := strings.TrimSpace(c.Example); ex != "" {
		b.WriteString("\n## Examples\n\n```sh\n")
		for _, line := range strings.Split(c.Example, "\n") {
			b.WriteString(strings.TrimRight(strings.TrimPrefix(line, "  "), " ") + "\n")
		}
		b.WriteString("```\n")
	}
	return os.WriteFile(filepath.Join(dir, mdFilename(c)), []byte(b.String()), 0o644)
}

// flagName is how a project option is named in the pointer: its shorthand if it has one.
func flagName(f *pflag.Flag) string {
	if f.Shorthand != "" {
		return "-" + f.Shorthand
	}
	return "--" + f.Name
}
