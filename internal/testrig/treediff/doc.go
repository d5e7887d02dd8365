// Package treediff is the tests' one description of a directory tree and one comparison of
// two: every path's type, permission and special bits, owner, mtime (ns), size and content
// hash, symlink target, hard links, device numbers and extended attributes (Read, Of), and
// the readable list of differences between two such descriptions under the relaxations a
// test names (Diff, Options). It is test support, apart from testrig so that a package's
// own unit tests can use it without testrig's engine and compose imports.
package treediff
