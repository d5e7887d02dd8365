#!/usr/bin/env bash
# release.sh [--image IMAGE]: the release files in $DIST (default dist/) from the plugins
# `make cross` built into bin/ (bin/docker-maim-OS-ARCH[.exe]):
#   docker-maim_VERSION_OS_ARCH.tar.gz (darwin, linux) and .zip (windows), each holding the
#     plugin under the name the docker CLI looks for (docker-maim, docker-maim.exe),
#     LICENSE and README.md, at the archive's top level;
#   with --image, docker-maim-desktop-extension_VERSION.tar.gz: `docker save` of the
#     extension image `make extension` built (load it with `docker load`);
#   SHA256SUMS over all of them (`sha256sum -c SHA256SUMS` checks them).
# VERSION is `git describe --tags --always --dirty` unless set; a leading "v" is dropped in
# the file names (tag v0.1.0 -> docker-maim_0.1.0_linux_amd64.tar.gz). The archives are
# reproducible: files sorted, owner 0, modes 0755/0644, times the commit's.
# For a release tag (vX.Y.Z) the README's quick start must download that version and
# CHANGELOG.md must have its section. It ends with `release.sh check`, which reads
# everything back (see check below).
set -euo pipefail
cd "$(dirname "$0")/.."
DIST=${DIST:-dist}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
V=${VERSION#v}
TARGETS=${CROSS_TARGETS:-darwin/amd64 darwin/arm64 linux/amd64 linux/arm64 windows/amd64 windows/arm64}
GO=${GO:-go}
EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 0)

die() { echo "release: $*" >&2; exit 1; }

# archive OS ARCH: one target's archive into $DIST.
archive() {
  local os=$1 arch=$2 ext= kind=tar.gz
  [ "$os" = windows ] && ext=.exe kind=zip
  local bin=bin/docker-maim-$os-$arch$ext name=docker-maim_${V}_${os}_${arch}
  [ -f "$bin" ] || die "$bin missing: run make cross first"
  local stage; stage=$(mktemp -d)
  install -m 0755 "$bin" "$stage/docker-maim$ext"
  install -m 0644 LICENSE README.md "$stage/"
  touch -d "@$EPOCH" "$stage"/*
  if [ "$kind" = zip ]; then
    (cd "$stage" && TZ=UTC zip -q -X -9 "$name.zip" "docker-maim$ext" LICENSE README.md)
    mv "$stage/$name.zip" "$DIST/"
  else
    tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$EPOCH" \
      -cf - "docker-maim$ext" LICENSE README.md | gzip -n -9 >"$DIST/$name.tar.gz"
  fi
  rm -rf "$stage"
  echo "release: $DIST/$name.$kind ($(du -h "$DIST/$name.$kind" | cut -f1))"
}

# check: every archive holds exactly the plugin (built for its OS and CPU, with the
# release's version, executable), LICENSE and README.md as in the tree; SHA256SUMS covers
# every file in $DIST and verifies; the linux archive of this host's CPU runs.
check() {
  local sums=$DIST/SHA256SUMS listed
  [ -f "$sums" ] || die "$sums missing"
  (cd "$DIST" && sha256sum --quiet -c SHA256SUMS) || die "SHA256SUMS does not verify"
  listed=$(awk '{print $2}' "$sums" | sed 's/^\*//' | sort)
  [ "$listed" = "$(cd "$DIST" && ls | grep -v '^SHA256SUMS$' | sort)" ] || die "SHA256SUMS does not list exactly the files in $DIST"
  local t os arch ext name dir want got
  for t in $TARGETS; do
    os=${t%/*} arch=${t#*/} ext=
    [ "$os" = windows ] && ext=.exe
    name=docker-maim_${V}_${os}_${arch}
    dir=$(mktemp -d)
    if [ "$os" = windows ]; then
      [ -f "$DIST/$name.zip" ] || die "$name.zip missing"
      got=$(unzip -Z1 "$DIST/$name.zip" | sort | tr '\n' ' ')
      unzip -q "$DIST/$name.zip" -d "$dir"
    else
      [ -f "$DIST/$name.tar.gz" ] || die "$name.tar.gz missing"
      got=$(tar -tzf "$DIST/$name.tar.gz" | sort | tr '\n' ' ')
      tar -xzf "$DIST/$name.tar.gz" -C "$dir"
      [ -x "$dir/docker-maim" ] || die "$name: docker-maim is not executable"
    fi
    want=$(printf '%s\n' LICENSE README.md "docker-maim$ext" | sort | tr '\n' ' ')
    [ "$got" = "$want" ] || die "$name holds [$got], want [$want]"
    cmp -s "$dir/LICENSE" LICENSE && cmp -s "$dir/README.md" README.md || die "$name: LICENSE or README.md differ from the tree's"
    # The Go build information says what the binary was built for.
    info=$($GO version -m "$dir/docker-maim$ext") || die "$name: not a Go binary"
    grep -q "GOOS=$os\$" <<<"$info" && grep -q "GOARCH=$arch\$" <<<"$info" || die "$name: built for another platform:
$info"
    # -trimpath keeps -ldflags out of the build information: the -X version is looked for
    # as the bytes it leaves in the binary (and, below, asked of the one this host runs).
    grep -qaF -- "$VERSION" "$dir/docker-maim$ext" || die "$name: not stamped with version $VERSION"
    if [ "$os" = linux ] && [ "$arch" = "$($GO env GOHOSTARCH)" ] && [ "$($GO env GOHOSTOS)" = linux ]; then
      got=$("$dir/docker-maim" version 2>&1) || die "$name: docker-maim version failed: $got"
      grep -q -- "$VERSION" <<<"$got" || die "$name: docker-maim version says $got, want $VERSION"
    fi
    rm -rf "$dir"
  done
  echo "release: checked $(wc -l <"$sums") files in $DIST (contents, platforms, version $VERSION, SHA256SUMS)"
}

main() {
  local image=
  case ${1:-} in
  check) check; return ;;
  --image) image=${2:?--image IMAGE}; docker image inspect "$image" >/dev/null || die "no image $image: run make extension" ;;
  "") ;;
  *) die "usage: release.sh [--image IMAGE] | check" ;;
  esac
  [ -f LICENSE ] && [ -f README.md ] || die "LICENSE and README.md are needed"
  # A release tag's archives carry a README whose quick start downloads that release, and
  # CHANGELOG.md has its section.
  if [[ $VERSION =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    grep -q "releases/download/$VERSION/docker-maim_${V}_linux_" README.md ||
      die "README.md's quick start does not download $VERSION"
    grep -q "^## \[$V\]" CHANGELOG.md || die "CHANGELOG.md has no section ## [$V]"
  fi
  rm -rf "$DIST"
  mkdir -p "$DIST"
  local t
  for t in $TARGETS; do archive "${t%/*}" "${t#*/}"; done
  if [ -n "$image" ]; then
    docker save "$image" | gzip -n -6 >"$DIST/docker-maim-desktop-extension_$V.tar.gz"
    echo "release: $DIST/docker-maim-desktop-extension_$V.tar.gz ($(du -h "$DIST/docker-maim-desktop-extension_$V.tar.gz" | cut -f1)) from $image"
  fi
  (cd "$DIST" && sha256sum -- * >SHA256SUMS)
  check
}

main "$@"
