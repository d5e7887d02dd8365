package fsaccess

import "golang.org/x/sys/unix"

// DataMap returns the data extents of the open regular file fd of the given size, as the file
// system reports them (lseek SEEK_DATA/SEEK_HOLE), or nil when it reports no hole, no data
// at all, or cannot tell. A hole reads as zeros; an extent may hold zeros too (written or
// preallocated).
func DataMap(fd int, size int64) ([]Extent, error) {
	var out []Extent
	var data int64
	var off int64
	for off < size {
		start, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if err == unix.ENXIO {
			break // a hole up to the end
		}
		if err != nil {
			if err == unix.EINVAL || err == unix.EOPNOTSUPP {
				return nil, nil
			}
			return nil, err
		}
		if start >= size {
			break
		}
		end, err := unix.Seek(fd, start, unix.SEEK_HOLE)
		if err != nil {
			return nil, err
		}
		end = min(end, size)
		if end <= start {
			break
		}
		out = append(out, Extent{start, end - start})
		data += end - start
		off = end
	}
	if _, err := unix.Seek(fd, 0, unix.SEEK_SET); err != nil {
		return nil, err
	}
	if data == size {
		return nil, nil // no hole
	}
	return out, nil
}
