#!/usr/bin/env bash
# Builds a real kube-apiserver and etcd from the Go module proxy (what controller-runtime's envtest runs) and
# caches them outside the repository, keyed by version:
#   ${XDG_CACHE_HOME:-~/.cache}/mailops/kube-v${KUBE_VERSION}-etcd-v${ETCD_VERSION}/{kube-apiserver,etcd}
# Prints that directory. A second run finds the binaries and returns at once.
# Cold, on 2 cores: ~6 min for kube-apiserver, ~1 min for etcd (Go module and build caches are Go's own).
set -euo pipefail

KUBE_VERSION="${MAILOPS_KUBE_VERSION:-1.35.4}"
ETCD_VERSION="${MAILOPS_ETCD_VERSION:-3.6.7}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/mailops/kube-v${KUBE_VERSION}-etcd-v${ETCD_VERSION}"
if [[ -x "$cache/kube-apiserver" && -x "$cache/etcd" ]]; then
  echo "$cache"
  exit 0
fi
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9 # one build at a time; a second caller waits and then finds the binaries
if [[ -x "$cache/kube-apiserver" && -x "$cache/etcd" ]]; then
  echo "$cache"
  exit 0
fi

export GOFLAGS="${GOFLAGS:-} -mod=mod"
export GOTOOLCHAIN=local
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [[ ! -x "$cache/kube-apiserver" ]]; then
  # k8s.io/kubernetes replaces every k8s.io/* staging module with a local path, so it cannot be built as a
  # dependency as it is: point each of those replacements at the published module of the same release instead.
  mkdir -p "$work/kube"
  cd "$work/kube"
  go mod init mailops.test/kube-apiserver >/dev/null 2>&1
  gomod="$(go mod download -json "k8s.io/kubernetes@v${KUBE_VERSION}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  {
    echo "require k8s.io/kubernetes v${KUBE_VERSION}"
    echo "replace ("
    sed -n '/^replace (/,/^)/p' "$gomod" | sed -n 's#^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/.*#\t\1 => \1 v0.'"${KUBE_VERSION#1.}"'#p'
    echo ")"
  } >> go.mod
  cat > tools.go <<'GO'
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
GO
  go mod tidy >&2
  go build -trimpath -o "$cache/kube-apiserver.partial" \
    -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v${KUBE_VERSION} -X k8s.io/component-base/version.gitMajor=${KUBE_VERSION%%.*} -X k8s.io/component-base/version.gitMinor=$(echo "$KUBE_VERSION" | cut -d. -f2)" \
    k8s.io/kubernetes/cmd/kube-apiserver >&2
  mv "$cache/kube-apiserver.partial" "$cache/kube-apiserver"
fi

if [[ ! -x "$cache/etcd" ]]; then
  mkdir -p "$work/etcd"
  cd "$work/etcd"
  go mod init mailops.test/etcd >/dev/null 2>&1
  echo "require go.etcd.io/etcd/server/v3 v${ETCD_VERSION}" >> go.mod
  cat > tools.go <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
  go mod tidy >&2
  go build -trimpath -ldflags "-s -w" -o "$cache/etcd.partial" go.etcd.io/etcd/server/v3 >&2
  mv "$cache/etcd.partial" "$cache/etcd"
fi
echo "$cache"
