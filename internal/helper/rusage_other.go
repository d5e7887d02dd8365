//go:build !unix

package helper

func PeakRSSKiB() int64 { return 0 }
