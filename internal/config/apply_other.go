//go:build !unix

package config

import (
	"io/fs"
	"os"
)

type owner struct{}

func ownerOf(fs.FileInfo) owner { return owner{} }

func chownLike(*os.File, owner) error { return nil }
