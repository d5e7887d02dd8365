//go:build !unix

package journal

import "os"

func killSelf() { os.Exit(137) }
