#!/usr/bin/env bash
# Cross-compiles the workspace for x86_64-pc-windows-gnu and runs its tests
# (unit, integration, doc) under Wine.
#
#   bash .ci/windows.sh
#
# Phases:
#   install  apt packages (mingw-w64 gcc, wine64), the Rust target, a Wine
#            prefix, the ProcessPrng shim, and a smoke test: a trivial Rust
#            program cross-built and run under Wine must exit 0.
#            Any failure here prints `SKIPPED: <reason>` and exits 0.
#   build    `cargo test --no-run` for the Windows target. Failure fails.
#   test     `cargo test` with Wine as the runner. Failure fails.
#
# Environment (all optional):
#   BULKHEAD_WINDOWS_BUDGET  total seconds for all phases (default 1800);
#                            overrunning it in install skips, later fails.
#   BULKHEAD_WINEPREFIX      Wine prefix (default ~/.cache/bulkhead/wine64);
#                            reused between runs, rebuilt if incomplete.
#   BULKHEAD_WINE_SKIP       space-separated test names (exact) not run under
#                            Wine (default: "ui", see below).
#
# Safe to run twice: every install step checks before it acts; a lock on the
# prefix serializes concurrent runs.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly TARGET=x86_64-pc-windows-gnu
readonly TARGET_ENV=X86_64_PC_WINDOWS_GNU
readonly BUDGET="${BULKHEAD_WINDOWS_BUDGET:-1800}"
readonly START=$SECONDS
# Tests that cannot run under Wine for a reason that is Wine's, not the code's:
#   ui  trybuild spawns the host's (Linux) cargo from the Windows test binary;
#       Wine cannot start it ("failed to execute cargo: Invalid handle").
#       The macro diagnostics it checks do not depend on the target anyway.
readonly WINE_SKIP="${BULKHEAD_WINE_SKIP-ui}"

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export WINEDEBUG=-all              # Wine's own chatter off
export WINEARCH=win64
# No Mono/Gecko install prompts, no desktop menu entries.
export WINEDLLOVERRIDES="mscoree,mshtml=;winemenubuilder.exe=d"
export WINEPREFIX="${BULKHEAD_WINEPREFIX:-${HOME:-/tmp}/.cache/bulkhead/wine64}"
# Lets tests tell Wine from real Windows, should one need to.
export BULKHEAD_UNDER_WINE=1

step() { printf '\n=== windows: %s\n' "$*"; }
remaining() {
    local left=$((BUDGET - (SECONDS - START)))
    if ((left < 1)); then left=1; fi
    echo "$left"
}
skip() {
    echo "SKIPPED: $*"
    exit 0
}
phase_done() { echo "windows: phase $1 took $((SECONDS - $2)) s"; }

# On exit, wait for this prefix's wineserver to go (it does once no Wine
# process is left). Under CI, kill whatever is still there after 20 s, so
# that nothing outlives the script; elsewhere someone may be using the prefix
# by hand, so leave it.
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
    if command -v wineserver >/dev/null 2>&1 && [[ -d "$WINEPREFIX" ]]; then
        if ! timeout 20 wineserver -w 2>/dev/null; then
            if [[ "${CI:-}" == true ]]; then
                wineserver -k 2>/dev/null || true
            else
                echo "windows: Wine processes are still running in $WINEPREFIX"
            fi
        fi
    fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- install ---
step "install"
t0=$SECONDS

SUDO=()
if ((EUID != 0)); then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n)
    fi
fi

have_tools() {
    command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 &&
        command -v wine >/dev/null 2>&1 &&
        command -v wineserver >/dev/null 2>&1 &&
        { [[ -x /usr/lib/wine/wine64 ]] || command -v wine64 >/dev/null 2>&1; }
}

if ! have_tools; then
    if ((EUID != 0)) && ((${#SUDO[@]} == 0)); then
        skip "mingw-w64/wine are not installed and this user cannot run apt-get"
    fi
    command -v apt-get >/dev/null 2>&1 || skip "mingw-w64/wine are not installed and there is no apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt_timeout=$(($(remaining) < 900 ? $(remaining) : 900))
    timeout "$apt_timeout" "${SUDO[@]}" apt-get update -qq || echo "windows: apt-get update failed; trying the install anyway"
    # An apt clean-up hook can make the first install fail with
    # "cannot access archive"; a second attempt then succeeds.
    installed=false
    for attempt in 1 2; do
        if timeout "$apt_timeout" "${SUDO[@]}" apt-get install -y -q --no-install-recommends \
            gcc-mingw-w64-x86-64 wine wine64 >/tmp/bulkhead-windows-apt.log 2>&1; then
            installed=true
            break
        fi
        echo "windows: apt-get install attempt $attempt failed:"
        tail -5 /tmp/bulkhead-windows-apt.log
        sleep 2
    done
    $installed || skip "apt-get install gcc-mingw-w64-x86-64 wine wine64 failed"
    have_tools || skip "mingw-w64/wine packages installed but their commands are missing"
fi
wine --version

# The Rust target (the toolchain is the one rust-toolchain.toml pins).
if ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
    timeout "$(remaining)" rustup target add "$TARGET" >/dev/null 2>&1 ||
        skip "the Rust target $TARGET could not be installed"
fi

# The Wine prefix: made once, reused; rebuilt if a previous run left it
# half-made. A lock keeps two concurrent runs from making it together.
mkdir -p "$(dirname "$WINEPREFIX")" || skip "cannot create $(dirname "$WINEPREFIX")"
exec 9>"$WINEPREFIX.lock"
flock -w "$(remaining)" 9 || skip "timed out waiting for the lock on $WINEPREFIX"
system32="$WINEPREFIX/drive_c/windows/system32"
if [[ ! -f "$WINEPREFIX/system.reg" || ! -f "$system32/kernel32.dll" ]]; then
    rm -rf "$WINEPREFIX"
    timeout "$(remaining)" wineboot -i >/tmp/bulkhead-windows-wineboot.log 2>&1 ||
        { tail -5 /tmp/bulkhead-windows-wineboot.log; skip "wineboot could not create the prefix $WINEPREFIX"; }
    timeout 60 wineserver -w || true
    [[ -f "$system32/kernel32.dll" ]] || skip "wineboot left no system32 in $WINEPREFIX"
    # A crashing test child should just exit with its exception code, not
    # start winedbg.
    wine reg delete 'HKLM\Software\Microsoft\Windows NT\CurrentVersion\AeDebug' \
        /v Debugger /f >/dev/null 2>&1 || true
fi

# Smoke test: a trivial Rust program, cross-built and run under Wine.
work="$(mktemp -d /tmp/bulkhead-windows.XXXXXX)"
trap 'rm -rf "$work"; cleanup' EXIT
printf 'fn main() { println!("hello from {}", std::env::consts::OS); }\n' >"$work/hello.rs"
timeout "$(remaining)" rustc --edition 2021 --target "$TARGET" -o "$work/hello.exe" "$work/hello.rs" ||
    skip "rustc could not cross-build a trivial program for $TARGET (linker missing?)"

smoke() { timeout 120 wine "$work/hello.exe"; }
if ! smoke; then
    # Rust's std imports ProcessPrng from bcryptprimitives.dll, which Wine has
    # only from 9.x: under Wine 8 every program exits with code 53. A tiny
    # DLL exporting ProcessPrng through advapi32's RtlGenRandom
    # (SystemFunction036) stands in for it.
    cat >"$work/bcryptprimitives.c" <<'EOF'
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

/* BOOL ProcessPrng(PBYTE pbData, SIZE_T cbData): always succeeds on Windows. */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
EOF
    x86_64-w64-mingw32-gcc -O2 -s -shared -o "$work/bcryptprimitives.dll" \
        "$work/bcryptprimitives.c" -ladvapi32 ||
        skip "mingw could not build the ProcessPrng shim DLL"
    cp "$work/bcryptprimitives.dll" "$system32/bcryptprimitives.dll"
    echo "windows: installed the ProcessPrng shim as $system32/bcryptprimitives.dll"
    smoke || skip "a trivial Rust program for $TARGET does not run under $(wine --version) (exit code $?)"
fi
phase_done install "$t0"

# ------------------------------------------------------------------ build ---
# From here on, a failure fails the script.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/windows"
export "CARGO_TARGET_${TARGET_ENV}_RUNNER=wine"

step "build (cargo test --no-run --target $TARGET)"
t0=$SECONDS
timeout "$(remaining)" cargo test --workspace --locked --target "$TARGET" --no-run
phase_done build "$t0"

# ------------------------------------------------------------------- test ---
skip_args=()
for name in $WINE_SKIP; do
    skip_args+=(--skip "$name")
done
if ((${#skip_args[@]} > 0)); then
    skip_args+=(--exact) # --skip matches whole test names, not substrings
    echo "windows: not run under Wine: $WINE_SKIP"
fi

step "test (cargo test --target $TARGET, runner wine)"
t0=$SECONDS
status=0
timeout "$(remaining)" cargo test --workspace --locked --target "$TARGET" --no-fail-fast \
    -- "${skip_args[@]}" || status=$?
phase_done test "$t0"
echo "windows: total $((SECONDS - START)) s"
if ((status == 124)); then
    echo "windows: FAILED: the time budget of $BUDGET s ran out during the tests"
fi
exit "$status"
