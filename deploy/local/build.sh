#!/usr/bin/env bash
# Builds the local stack's binaries from the pinned tool modules in deploy/local/tools, once:
# each lands in ~/.cache/portico/bin/<name>-<version>/ and later runs reuse it. Every step says
# what it does and how long it took. Usage: build.sh [component...] (default: all).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
CACHE=${PORTICO_CACHE:-$HOME/.cache/portico}
export GOFLAGS=-mod=mod
total0=$(date +%s)

step() { # name version dir binaries... -- go build flags and packages...
  local name=$1 version=$2 dir=$3; shift 3
  local bins=() ; while [ "$1" != "--" ]; do bins+=("$1"); shift; done; shift
  local out="$CACHE/bin/$name-$version"
  if [ -f "$out/.complete" ]; then
    echo "build: $name $version: cached in $out"
    return
  fi
  echo "build: $name $version: building ${bins[*]} (first time only)…"
  local t0; t0=$(date +%s)
  local tmp; tmp=$(mktemp -d)
  (cd "$here/tools/$dir" && go build -trimpath -o "$tmp/" "$@")
  mkdir -p "$out"
  for b in "${bins[@]}"; do
    src=${b%%=*}; dst=${b#*=}   # "built=installed" renames, e.g. server=etcd
    mv "$tmp/$src" "$out/$dst"
  done
  rm -rf "$tmp"
  touch "$out/.complete"
  echo "build: $name $version: done in $(( $(date +%s) - t0 ))s"
}

# crds copies the mesh projects' published CustomResourceDefinitions out of their Go modules:
# Istio's (istio.io/api) and Gateway API's standard HTTPRoute (sigs.k8s.io/gateway-api).
crds() {
  local out="$CACHE/crds-$ISTIO_API_VERSION-$GATEWAY_API_VERSION"
  if [ -f "$out/.complete" ]; then
    echo "build: crds $ISTIO_API_VERSION $GATEWAY_API_VERSION: cached in $out"
    return
  fi
  echo "build: crds: copying Istio's and Gateway API's CRDs from their modules…"
  local t0; t0=$(date +%s)
  local tmp; tmp=$(mktemp -d)
  (cd "$tmp" && go mod init crds >/dev/null 2>&1 &&
    istio=$(go mod download -json "istio.io/api@$ISTIO_API_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p') &&
    gw=$(go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p') &&
    mkdir -p "$out" &&
    cp "$istio/kubernetes/customresourcedefinitions.gen.yaml" "$out/istio.yaml" &&
    cp "$gw/config/crd/standard/gateway.networking.k8s.io_httproutes.yaml" "$out/gateway-api-httproutes.yaml" &&
    cp "$gw/config/crd/standard/gateway.networking.k8s.io_gateways.yaml" "$out/gateway-api-gateways.yaml")
  chmod -R u+w "$out"
  rm -rf "$tmp"
  touch "$out/.complete"
  echo "build: crds: done in $(( $(date +%s) - t0 ))s"
}

# rollouts builds Argo Rollouts' controller and copies its CRDs from the same module.
rollouts() {
  local v=github.com/argoproj/argo-rollouts/utils/version
  step argo-rollouts "$ARGO_ROLLOUTS_VERSION" argo-rollouts rollouts-controller -- \
    -ldflags "-s -w -X $v.version=${ARGO_ROLLOUTS_VERSION#v} -X $v.gitTag=$ARGO_ROLLOUTS_VERSION -X $v.gitTreeState=clean" \
    github.com/argoproj/argo-rollouts/cmd/rollouts-controller
  local out="$CACHE/bin/argo-rollouts-$ARGO_ROLLOUTS_VERSION/crds"
  if [ ! -f "$out/.complete" ]; then
    local dir; dir=$(cd "$here/tools/argo-rollouts" && go list -m -f '{{.Dir}}' github.com/argoproj/argo-rollouts)
    mkdir -p "$out"
    cp "$dir"/manifests/crds/{rollout,analysis-template,cluster-analysis-template,analysis-run,experiment}-crd.yaml "$out/"
    chmod -R u+w "$out"
    touch "$out/.complete"
  fi
}

kube_ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"

want=("$@")
[ ${#want[@]} -gt 0 ] || want=(etcd kube kubectl kwok jaeger oidc demo crds rollouts)
for c in "${want[@]}"; do
  case $c in
    etcd)   step etcd "$ETCD_VERSION" etcd server=etcd -- -ldflags "-s -w" go.etcd.io/etcd/server/v3 ;;
    kube)   step kubernetes "$KUBE_VERSION" kube kube-apiserver kube-controller-manager kube-scheduler -- \
              -ldflags "$kube_ldflags" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler ;;
    # kubectl: its own cache entry, so a cache built before it was added gets it too.
    kubectl) step kubectl "$KUBE_VERSION" kube kubectl -- -ldflags "$kube_ldflags" k8s.io/kubernetes/cmd/kubectl ;;
    kwok)   step kwok "$KWOK_VERSION" kwok kwok -- -ldflags "-s -w" sigs.k8s.io/kwok/cmd/kwok ;;
    jaeger) step jaeger "$JAEGER_VERSION" jaeger jaeger -- -p 1 -ldflags "-s -w" github.com/jaegertracing/jaeger/cmd/jaeger ;;
    oidc)   step oidc "$OIDC_VERSION-$(cat "$here/tools/oidc/"*.go "$here/tools/oidc/go.sum" | sha256sum | cut -c1-10)" oidc oidc -- -ldflags "-s -w" . ;;
    # Programs of our own are keyed by a digest of their source, so a change rebuilds them.
    demo)   step demo "src-$(cat "$here/demo/"*.go "$here/demo/go.sum" | sha256sum | cut -c1-10)" ../demo demo=portico-demo -- -ldflags "-s -w" . ;;
    crds)   crds ;;
    rollouts) rollouts ;;
    *) echo "build: unknown component $c" >&2; exit 2 ;;
  esac
done
echo "build: all requested components ready in $(( $(date +%s) - total0 ))s"
