//go:build !unix

package upgrade

func freeBytes(string) int64 { return -1 }
