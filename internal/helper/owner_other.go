//go:build !unix

package helper

import "os"

func ensureOwner(*os.File, int, int) error { return nil }
