//go:build !linux

package volume

import "errors"

func statfsFree(string) (int64, error) { return -1, errors.New("free space needs linux") }
