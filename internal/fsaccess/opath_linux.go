package fsaccess

import "golang.org/x/sys/unix"

// oPath opens the directories of a resolution (Beneath) as bare references: no read
// permission needed, usable only as the base of *at calls.
const oPath = unix.O_PATH
