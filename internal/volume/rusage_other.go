//go:build !unix

package volume

func peakRSSKiB() int64 { return 0 }
