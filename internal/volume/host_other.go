//go:build !linux

package volume

import "errors"

func sameMountNamespace(string) error { return errors.New("host path needs linux") }

func checkAccess(string, bool, bool) error { return errors.New("host path needs linux") }
