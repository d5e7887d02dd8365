package maibot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxConfigSize bounds what the version probe reads of a TOML config: MaiBot's are a few
// KiB; a larger file is not one of its configs.
const MaxConfigSize = 1 << 20

// ErrNotRegular is the probe's answer for a path that is no regular file: a symlink, a
// FIFO, a device, a directory. ErrTooLarge for a config larger than MaxConfigSize.
var (
	ErrNotRegular = errors.New("not a regular file")
	ErrTooLarge   = fmt.Errorf("larger than %d bytes", MaxConfigSize)
)

// ConfigVersionFile is InnerVersion of the config file at path, read with the probe's care
// (openProbe): the bot's container can write the config dir, and the probe runs while the
// bot is stopped, so a FIFO there must not hang it and a symlink must not lead it
// elsewhere. At most MaxConfigSize bytes are read.
func ConfigVersionFile(path string) (string, error) {
	f, err := openProbe(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var b bytes.Buffer
	if _, err := io.Copy(&b, io.LimitReader(f, MaxConfigSize+1)); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if b.Len() > MaxConfigSize {
		return "", fmt.Errorf("%s: %w", path, ErrTooLarge)
	}
	return InnerVersion(b.Bytes())
}

// SchemaVersionFile is SchemaVersion of the database file at path (its header only), opened
// with the probe's care (openProbe).
func SchemaVersionFile(path string) (int32, error) {
	f, err := openProbe(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return SchemaVersion(io.LimitReader(f, HeaderSize))
}
