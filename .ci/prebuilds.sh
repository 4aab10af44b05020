# shellcheck shell=bash
# The local-prebuilds folder of better-sqlite3's install (sourced by .ci/run): the addon one `npm ci` compiled,
# packed as prebuild-install unpacks a downloaded prebuild, for the next `npm ci` on this machine.

PTC_CI_PREBUILDS="${PTC_CI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ptc-ci}/prebuilds"

# Packs node_modules/better-sqlite3's compiled addon into $PTC_CI_PREBUILDS, named by prebuild-install's
# own rule (package version, Node ABI, platform, libc, arch), unless a tarball of that name is there already.
keep_better_sqlite3_prebuild() {
  local name addon=node_modules/better-sqlite3/build/Release/better_sqlite3.node
  [ -f "$addon" ] && [ -d node_modules/prebuild-install ] || return 0
  name=$(node -e '
    const pkg = require("./node_modules/better-sqlite3/package.json");
    const opts = { ...require("./node_modules/prebuild-install/rc")(pkg), pkg };
    process.stdout.write(require("node:path").basename(require("./node_modules/prebuild-install/util").getDownloadUrl(opts)));
  ') || return 0
  [ -f "$PTC_CI_PREBUILDS/$name" ] && return 0
  mkdir -p "$PTC_CI_PREBUILDS"
  # Written aside, then renamed: a concurrent run never unpacks half a tarball.
  tar -czf "$PTC_CI_PREBUILDS/$name.$$.tmp" -C node_modules/better-sqlite3 build/Release/better_sqlite3.node &&
    mv "$PTC_CI_PREBUILDS/$name.$$.tmp" "$PTC_CI_PREBUILDS/$name" &&
    echo "ci: kept better-sqlite3's compiled addon as $PTC_CI_PREBUILDS/$name"
}
