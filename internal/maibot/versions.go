package maibot

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
)

// App version keys docker-maim records in a backup's manifest (backup.Manifest.AppVersions)
// for a MaiBot project: the database schema, and each config's [inner].version under the
// prefix followed by the file's name (maibot.config.bot_config.toml).
const (
	AppVersionDBSchema     = "maibot.db_schema"
	AppVersionConfigPrefix = "maibot.config."
)

// ReadVersions reads the database schema (-1: no database found or unknown) and each
// config's [inner].version (ConfigFiles) of a core service from the host dirs bound at
// DataDir and ConfigDir ("" when the core binds none). It runs while the bot is stopped,
// over dirs the bot's container can write: each file is read with the probe's care
// (ConfigVersionFile, SchemaVersionFile), and a file that cannot be read is an unknown
// version with a warning (a missing one is silently absent).
func ReadVersions(dataDir, configDir string) (dbSchema int32, configs map[string]string, warnings []string) {
	unknown := func(what string, err error) {
		if !errors.Is(err, fs.ErrNotExist) {
			warnings = append(warnings, fmt.Sprintf("MaiBot: %s: version unknown (%v)", what, err))
		}
	}
	dbSchema = -1
	if dataDir != "" {
		if v, err := SchemaVersionFile(filepath.Join(dataDir, DatabaseFile)); err == nil {
			dbSchema = v
		} else {
			unknown(DatabaseFile, err)
		}
	}
	configs = map[string]string{}
	if configDir != "" {
		for _, name := range ConfigFiles {
			if v, err := ConfigVersionFile(filepath.Join(configDir, name)); err == nil && v != "" {
				configs[name] = v
			} else if err != nil {
				unknown(name, err)
			}
		}
	}
	return dbSchema, configs, warnings
}

// AppVersions is what a backup records of a MaiBot deployment's versions in its manifest's
// AppVersions (nil when there is nothing to record).
func AppVersions(dbSchema int32, configs map[string]string) map[string]string {
	out := map[string]string{}
	if dbSchema >= 0 {
		out[AppVersionDBSchema] = strconv.Itoa(int(dbSchema))
	}
	for n, v := range configs {
		out[AppVersionConfigPrefix+n] = v
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// RecordedSchema is the database schema a manifest's AppVersions recorded (-1 when it did
// not).
func RecordedSchema(appVersions map[string]string) int32 {
	v, err := strconv.ParseInt(appVersions[AppVersionDBSchema], 10, 32)
	if err != nil {
		return -1
	}
	return int32(v)
}
