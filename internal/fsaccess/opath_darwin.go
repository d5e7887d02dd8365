package fsaccess

// oPath: darwin has no O_PATH; the directories of a resolution (Beneath) are opened for
// reading.
const oPath = 0
