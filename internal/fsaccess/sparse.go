package fsaccess

// Extent is a data region of a sparse file: N bytes at offset Off (DataMap).
type Extent struct{ Off, N int64 }
