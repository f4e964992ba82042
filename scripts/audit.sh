#!/usr/bin/env bash
# Dependency audit with cargo-deny (policy in deny.toml; see SECURITY.md).
#
#   scripts/audit.sh            # bans, licenses, sources; advisories when possible
#
# Installs the pinned cargo-deny into ~/.cargo/bin when it is missing (from
# crates.io, built in its own target directory so it does not disturb the
# project's build cache). The RustSec advisory database is fetched from
# GitHub; where that cannot be reached the advisories check is SKIPPED and
# says so, while the other checks still fail the script on any violation.
set -euo pipefail

CARGO_DENY_VERSION="0.20.2"
cd "$(dirname "$0")/.."

installed_version() {
    cargo deny --version 2>/dev/null | awk '{print $2}'
}

if [[ "$(installed_version)" != "$CARGO_DENY_VERSION" ]]; then
    echo "audit: installing cargo-deny $CARGO_DENY_VERSION (a few minutes, once)"
    CARGO_TARGET_DIR="${CARGO_DENY_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kalei-cargo-deny-build}" \
        nice -n 10 cargo install --locked --quiet cargo-deny --version "$CARGO_DENY_VERSION"
fi

echo "audit: cargo deny check bans licenses sources"
cargo deny --log-level error check bans licenses sources

# The advisory database is a git repository on GitHub. Give the fetch a
# bounded time; an unreachable network must not hang CI.
if timeout 120 cargo deny --log-level error fetch db >/dev/null 2>&1; then
    echo "audit: cargo deny check advisories"
    cargo deny --log-level error check advisories
else
    echo "audit: SKIPPED advisories: the RustSec advisory database could not be fetched" \
         "(no route to github.com from this machine); run scripts/audit.sh where it can be reached"
fi
echo "audit: ok"
