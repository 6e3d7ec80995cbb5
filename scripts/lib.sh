# Shared by the scripts: progress output and idempotent, offline-friendly tool installs.
# Everything comes from crates.io, npm or Debian packages; nothing else is downloaded.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WASM_BINDGEN_VERSION="0.2.130"   # must equal the wasm-bindgen pin in Cargo.toml
SITE_ROOT="${SWITCHBOARD_SITE_ROOT:-$REPO_ROOT/target/site}"
RELEASE_SITE_ROOT="$REPO_ROOT/target/site-release"   # built into the release binary

# Each step is timed (until the next step starts); print_timings lists them, so where a
# first start's minutes go is visible (installs, client build, server build).
STEP_NAMES=(); STEP_SECS=(); STEP_NOW=""; STEP_STARTED=""
_close_step() {
  if [ -n "$STEP_NOW" ]; then
    STEP_NAMES+=("$STEP_NOW"); STEP_SECS+=($(( $(date +%s) - STEP_STARTED )))
  fi
}
step() {
  _close_step
  STEP_NOW="$*"; STEP_STARTED=$(date +%s)
  printf '\n\033[1m==> %s\033[0m\n' "$*"
}
print_timings() {
  _close_step; STEP_NOW=""
  local total=0 i
  printf '\n\033[1mStep timings\033[0m\n'
  for i in "${!STEP_NAMES[@]}"; do
    printf '  %5ss  %s\n' "${STEP_SECS[$i]}" "${STEP_NAMES[$i]}"
    total=$(( total + STEP_SECS[i] ))
  done
  printf '  %5ss  in all\n' "$total"
}
note() { printf '    %s\n' "$*"; }

# Work started in the background (the release build and the type check beside the tests): a
# stop (a failure, Ctrl-C) stops it too, with everything it started. Each script sourcing
# this file gets the trap (a ( … ) subshell would not inherit it).
BACKGROUND=()
kill_tree() {
  local child
  for child in $(pgrep -P "$1"); do kill_tree "$child"; done
  kill "$1" 2>/dev/null || true
}
stop_background() {
  local pid
  for pid in "${BACKGROUND[@]}"; do kill_tree "$pid"; done
  BACKGROUND=()
}
trap stop_background EXIT
# in_background <log> <command…>: runs it with its output in <log>; BACKGROUND_PID is its pid.
in_background() {
  local log="$1"; shift
  "$@" >"$log" 2>&1 &
  BACKGROUND_PID=$!
  BACKGROUND+=("$BACKGROUND_PID")
}
# finish_background <pid> <log> <what>: waits for it, prints its output; exits if it failed.
finish_background() {
  local pid="$1" log="$2" what="$3" ok=0 kept=() p
  wait "$pid" || ok=$?
  for p in "${BACKGROUND[@]}"; do [ "$p" = "$pid" ] || kept+=("$p"); done
  BACKGROUND=("${kept[@]+"${kept[@]}"}")
  cat "$log"; rm -f "$log"
  if [ "$ok" != 0 ]; then echo "$what failed (above)." >&2; exit 1; fi
}

target_dir() {
  if [ -n "${CARGO_TARGET_DIR:-}" ]; then echo "$CARGO_TARGET_DIR"; else echo "$REPO_ROOT/target"; fi
}

# Where `build_app release` puts the deployable binary (scripts/test finds it there after
# building it in the background, where build_app's SWITCHBOARD_BIN does not reach).
release_bin() { echo "$(target_dir)/release/switchboard"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() { # apt_install <command-to-check> <package>
  if ! command -v "$1" >/dev/null 2>&1; then
    step "Installing $2 (Debian package)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$2" >/dev/null
  fi
}

ensure_rust_tools() {
  if ! command -v cargo >/dev/null 2>&1; then
    echo "Rust is not installed. Install it with rustup (https://rustup.rs) and run this again." >&2
    exit 1
  fi
  if ! rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
    step "Adding the wasm32-unknown-unknown target (rustup)"
    rustup target add wasm32-unknown-unknown
  fi
  if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
    step "Installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (cargo install, ~3 min once)"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
  fi
}

# The end-to-end tests run in Chromium's headless shell, and in the full browser where they
# need what only it does (end2end/tests/browsers.ts).
ensure_chromium() {
  apt_install chromium chromium
  apt_install chromium-headless-shell chromium-headless-shell
}

# build_app [release]: the browser bundle (WASM + JS + CSS + public files) and the server.
# Sets SWITCHBOARD_BIN (and SWITCHBOARD_SITE_ROOT, which a release binary doesn't need).
build_app() {
  local profile="${1:-dev}"
  ensure_rust_tools
  local tdir; tdir="$(target_dir)"
  local wasm_profile wasm_dir site
  # Each profile has its own client folder, so building one never undoes the other.
  if [ "$profile" = release ]; then
    wasm_profile=wasm-release; wasm_dir=wasm-release; site="$RELEASE_SITE_ROOT"
  else
    wasm_profile=dev; wasm_dir=debug; site="$SITE_ROOT"
  fi
  step "Building the browser client (WASM, profile $wasm_profile)"
  cargo build -p frontend --lib --target wasm32-unknown-unknown --profile "$wasm_profile"
  mkdir -p "$site/pkg"
  # The client's files come from the WASM, the CSS and the scripts below; when none of
  # them changed (a change to server code only), the last build's files stand: wasm-bindgen,
  # wasm-opt and brotli took 20 s to make the same bytes again.
  local built_from
  built_from="$profile $(cat "$tdir/wasm32-unknown-unknown/$wasm_dir/frontend.wasm" "$REPO_ROOT/style/main.css" \
    "$REPO_ROOT/scripts/stub-unused-hydration.mjs" "$REPO_ROOT/scripts/name-and-compress-client.mjs" \
    "$REPO_ROOT/scripts/lib.sh" | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$site.built-from" 2>/dev/null)" = "$built_from" ] && [ -f "$site/hash.txt" ]; then
    echo "    client unchanged since the last build: kept"
  else
    rm -f "$site.built-from"
    wasm-bindgen --target web --no-typescript --out-dir "$site/pkg" --out-name switchboard \
      "$tdir/wasm32-unknown-unknown/$wasm_dir/frontend.wasm"
    ensure_node
    node "$REPO_ROOT/scripts/stub-unused-hydration.mjs" "$site/pkg/switchboard_bg.wasm" "$site/pkg/switchboard_bg.wasm"
    cp "$REPO_ROOT/style/main.css" "$site/pkg/switchboard.css"
    if [ "$profile" = release ]; then
      ensure_node_packages
      step "Optimising the WASM with wasm-opt (binaryen, npm)"
      # binaryen from npm, pinned in end2end/package.json: Debian's wasm-opt 108 turned
      # wasm-bindgen 0.2.130's output into a module the browser refuses (a table of the
      # wrong type), so release builds never hydrated. -Os --converge, not -Oz: a little
      # more raw code that compresses better (brotli 237.6 KB against 240.4 KB).
      # --ignore-implicit-traps: the optimiser may assume no load is out of bounds and no
      # division by zero, which Rust's own checks (explicit traps, kept) already rule out;
      # 489 B brotli smaller, and a few seconds faster.
      "$REPO_ROOT/end2end/node_modules/.bin/wasm-opt" -Os --converge --ignore-implicit-traps \
        --strip-debug --strip-producers \
        --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
        --enable-reference-types --enable-multivalue \
        -o "$site/pkg/switchboard_bg.wasm" "$site/pkg/switchboard_bg.wasm"
      step "Minifying the JS glue and the CSS (esbuild)"
      local esbuild="$REPO_ROOT/end2end/node_modules/.bin/esbuild"
      "$esbuild" --log-level=warning --minify --format=esm --allow-overwrite \
        --outfile="$site/pkg/switchboard.js" "$site/pkg/switchboard.js"
      "$esbuild" --log-level=warning --minify --allow-overwrite \
        --outfile="$site/pkg/switchboard.css" "$site/pkg/switchboard.css"
    fi
    node "$REPO_ROOT/scripts/name-and-compress-client.mjs" "$site" "$profile"
    echo "$built_from" > "$site.built-from"
  fi
  # A page script deleted from public/ must not live on in the site (nor in the binary).
  rm -f "$site"/*.js "$site"/*.js.br "$site"/*.js.gz
  cp -R "$REPO_ROOT/public/." "$site/"
  vendor_sdks "$site"
  if [ "$profile" = release ]; then
    ensure_node_packages
    step "Minifying and precompressing the page scripts (esbuild)"
    local script
    for script in "$site"/*.js; do
      "$REPO_ROOT/end2end/node_modules/.bin/esbuild" --log-level=warning --minify --allow-overwrite \
        --outfile="$script" "$script"
    done
    node "$REPO_ROOT/scripts/name-and-compress-client.mjs" --scripts "$site"
    node "$REPO_ROOT/scripts/name-and-compress-client.mjs" --scripts "$site/vendor"
    # One file to deploy: the client goes inside the binary (server/build.rs embeds it).
    step "Building the server (profile release, client embedded)"
    SWITCHBOARD_EMBED_SITE="$(cd "$site" && pwd)" cargo build -p switchboard --release --features embed-site
    SWITCHBOARD_BIN="$(release_bin)"
  elif [ -n "${SERVER_AS_TESTED:-}" ]; then
    # scripts/test: the binary its integration tests build (cargo test builds a package's
    # binaries for them). The tests' dev-dependencies turn on more features of shared crates,
    # so a plain `cargo build` compiled the app and its deps a second time (~2.5 min cold,
    # ~35 s warm after a one-line change).
    step "Building the server (profile dev, as the tests build it)"
    cargo test -p domain -p app -p switchboard --no-run
    SWITCHBOARD_BIN="$tdir/debug/switchboard"
  else
    step "Building the server (profile dev)"
    cargo build -p switchboard
    SWITCHBOARD_BIN="$tdir/debug/switchboard"
  fi
  export SWITCHBOARD_BIN SWITCHBOARD_SITE_ROOT="$site"
}

# vendor_sdks <site>: the carrier calling SDKs (pinned in scripts/vendor-sdks.json, from
# the npm registry, integrity-checked) copied into the site's vendor/ folder; public/calls.js
# loads them only when a phone-network call is answered or placed in the browser.
vendor_sdks() {
  ensure_node
  node "$REPO_ROOT/scripts/vendor-sdks.mjs" "$1" "$REPO_ROOT/target/vendor-cache"
}

# The PostgreSQL the tests use: started if it is installed but stopped.
ensure_postgres() {
  local url="${SWITCHBOARD_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}"
  export SWITCHBOARD_TEST_POSTGRES="$url"
  if command -v pg_isready >/dev/null 2>&1 && pg_isready -h 127.0.0.1 -p 5432 -q; then return; fi
  step "Starting PostgreSQL"
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  else
    apt_install psql postgresql
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && return; sleep 1; done
  echo "PostgreSQL did not come up on 127.0.0.1:5432 (set SWITCHBOARD_TEST_POSTGRES to use another)." >&2
  exit 1
}

ensure_node() { apt_install node nodejs; }

ensure_node_packages() {
  ensure_node
  if ! command -v npm >/dev/null 2>&1; then apt_install npm npm; fi
  if [ ! -d "$REPO_ROOT/end2end/node_modules/@playwright/test" ] || \
     [ "$REPO_ROOT/end2end/package-lock.json" -nt "$REPO_ROOT/end2end/node_modules/.package-lock.json" ]; then
    step "Installing end-to-end test packages (npm ci)"
    (cd "$REPO_ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
}
