#!/usr/bin/env bash
# The plugin's checks, as CI and the lead run them: Node 22 from the repo's .tools/
# (plugins/backstage/node.sh), the dependencies, then the generated-code check, the
# typecheck, lint and the jest tests (non-interactive). Extra arguments go to jest,
# e.g. ./test.sh src/components/model
#
# node_modules is a link into a cache outside the clone, as for the portal
# (plugins/backstage/app/portal.py): <cache>/plugin-<hash>/node_modules, the hash of
# package.json, package-lock.json, .npmrc and the Node ABI, <cache> being
# $MLMETA_BACKSTAGE_CACHE or ~/.cache/mlmeta ($XDG_CACHE_HOME/mlmeta). `npm ci` runs
# once per lock on a machine, under a file lock (concurrent runs wait for it), and the
# folder counts only once its marker is written; a fresh clone or CI run just links it.
# (tsconfig.json has preserveSymlinks: types are named through ./node_modules, not the
# cache's real path, which tsc's declaration emit would call "not portable".)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
PATH="$("$here/../node.sh"):$PATH"
export PATH CI=true

if [ -n "${MLMETA_BACKSTAGE_CACHE:-}" ]; then
  cache_root="$MLMETA_BACKSTAGE_CACHE"
else
  cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/mlmeta"
fi
key_material() {
  for f in package.json package-lock.json .npmrc; do
    printf '%s\0' "$f"
    if [ -f "$f" ]; then cat "$f"; else printf -- -; fi
  done
  node -p 'process.versions.modules'
}
key="$(key_material | sha256sum | cut -c1-16)"
dest="$cache_root/plugin-$key"
marker="$dest/.mlmeta-installed"

if [ ! -f "$marker" ]; then
  mkdir -p "$cache_root"
  exec 9>"$dest.lock"
  flock 9
  if [ ! -f "$marker" ]; then # another run may have installed it meanwhile
    rm -rf "$dest"            # leftovers of a failed or interrupted install
    mkdir -p "$dest"
    for f in package.json package-lock.json .npmrc; do [ ! -f "$f" ] || cp "$f" "$dest/"; done
    echo "plugin: npm ci into $dest (node $(node --version); once per lock)"
    started=$SECONDS
    # Once more on failure: on a busy machine npm 11 has been seen to fail extracting
    # (ENOENT "Cannot cd into node_modules/<pkg>") and pass on the next try.
    (cd "$dest" && { npm ci --no-audit --no-fund || { echo "plugin: npm ci failed; once more"; npm ci --no-audit --no-fund; }; })
    echo "{\"seconds\": $((SECONDS - started))}" > "$marker"
  fi
  flock -u 9
  exec 9>&-
fi

# node_modules -> the cache (an older in-clone install is replaced: it is derived).
if [ -L node_modules ]; then
  [ "$(readlink node_modules)" = "$dest/node_modules" ] || {
    ln -s "$dest/node_modules" ".node_modules.$$"
    mv -T ".node_modules.$$" node_modules
  }
else
  if [ -e node_modules ]; then
    echo "plugin: replacing the in-clone node_modules by a link into $dest"
    rm -rf node_modules
  fi
  ln -s "$dest/node_modules" ".node_modules.$$"
  mv -T ".node_modules.$$" node_modules
fi

echo "plugin: generated operations up to date"
npm run -s codegen:check
echo "plugin: typecheck"
npx tsc --noEmit
echo "plugin: lint"
npx backstage-cli package lint
echo "plugin: tests"
npx backstage-cli package test "$@"
