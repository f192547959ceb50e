#!/usr/bin/env bash
# The plugin's checks, as CI and the lead run them: Node 22 from the repo's .tools/
# (plugins/backstage/node.sh), `npm ci` only when node_modules is missing or
# package-lock.json changed since the last install, then the generated-code check,
# the typecheck, lint and the jest tests (non-interactive). Extra arguments go to jest,
# e.g. ./test.sh src/components/model
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
PATH="$("$here/../node.sh"):$PATH"
export PATH CI=true

stamp=node_modules/.mlmeta-lock.sha256
lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
  echo "plugin: npm ci (node $(node --version))"
  # Once more on failure: on a busy machine npm 11 has been seen to fail extracting
  # (ENOENT "Cannot cd into node_modules/<pkg>") and pass on the next try.
  npm ci --no-audit --no-fund || { echo "plugin: npm ci failed; once more"; npm ci --no-audit --no-fund; }
  echo "$lock_hash" > "$stamp"
fi

echo "plugin: generated operations up to date"
npm run -s codegen:check
echo "plugin: typecheck"
npx tsc --noEmit
echo "plugin: lint"
npx backstage-cli package lint
echo "plugin: tests"
npx backstage-cli package test --passWithNoTests "$@"
