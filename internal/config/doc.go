// Package config owns docker-maim's config merge engine and merge planning.
//
// The merge engine carries a user's settings from the config file they run today
// (the "current" file) into the text of a new version's config template. The output
// is the template's bytes — its order, comments, blank lines and non-ASCII text —
// with the user's values spliced in as the user wrote them (never re-serialized),
// so strings, backslashes and comments round-trip exactly. Formats: TOML (MaiBot's),
// dotenv, YAML and JSON; see Merge and Options for the rules.
//
// Merge planning says, for an upgrade, which host config files to merge and where
// their templates come from (a Plan), as an `x-maim` compose extension declares them
// (PlansFromExtension); internal/maibot makes the plans of MaiBot's own layout
// (maibot.TemplatePlans) and knows its version key. A template is a host path or a
// file inside the new image; Prepare reads the latter through an ImageReader it is
// handed (internal/templates reads it through the engine): this package never talks
// to the engine. ApplyFile replaces a config file atomically, keeping its owner and
// mode (a new file is 0600).
//
// Diff renders the changed lines of a merge for people and JSON; it redacts secret
// values (SecretKey: API keys, tokens, passwords and the like by key name, URLs with a
// password, every dotenv value) unless asked to show them.
//
// The package does not decide when merges happen, does not back files up and does
// not talk to Compose; internal/upgrade does.
package config
