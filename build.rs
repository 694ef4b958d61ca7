//! Packs the binary's relative relocations (`-z pack-relative-relocs`, DT_RELR) where the C
//! library that kelp is built against can load them. A position-independent executable carries
//! one 24-byte record per pointer the loader fixes up at start; packed, they take a few kB
//! instead of half a megabyte, and there is less of the file to read in at every launch.
//!
//! glibc loads packed relocations from 2.36. The linker marks a binary that uses them as
//! needing `GLIBC_ABI_DT_RELR`, so one copied to an older system says so when it starts rather
//! than crashing. Elsewhere (another C library, a cross build, an older glibc) nothing changes.
//!
//! A release build for x86-64 Linux, linked by LLD (Rust's default there from 1.90), also lays out the
//! functions a client runs from launch to its first idle frame side by side at the front of
//! the code (`link/startup-text.txt`, `--symbol-ordering-file`). The kernel maps a program's
//! code in 64 kB windows around each page it touches: scattered through 8 MB, those ~0.8 MB of
//! functions kept 5.7 MB of it resident in every idle client; packed, about one MB. The list
//! is made by `scripts/startup-text.sh` (the functions a run under callgrind executed); a name
//! it lacks, such as a function added since, is simply laid out where the compiler put it.
//!
//! The same builds fold functions and read-only data whose bytes are identical into one copy
//! (`--icf=all`): the same machine code instantiated for different types, about 0.1 MB. Rust
//! promises no function two addresses of its own; `--icf=safe` folds nothing here (rustc
//! writes no address-significance tables).

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let native = var("TARGET") == var("HOST");
    let linux_gnu = var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu";
    if native && linux_gnu && glibc_loads_packed_relocations() {
        println!("cargo:rustc-link-arg=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rerun-if-changed={STARTUP_TEXT}");
    println!("cargo:rerun-if-env-changed=KELP_LINK_MAP");
    if var("TARGET") == "x86_64-unknown-linux-gnu"
        && var("PROFILE") == "release"
        && links_with_lld(&var("RUSTC"), &var("CARGO_ENCODED_RUSTFLAGS"))
    {
        let list = std::path::Path::new(&var("CARGO_MANIFEST_DIR")).join(STARTUP_TEXT);
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            list.display()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
        println!("cargo:rustc-link-arg-bins=-Wl,--icf=all");
        // The linker's map of the binary (each function's address), where
        // `scripts/startup-text.sh` asks for it, to name the functions a run touched.
        if let Ok(map) = std::env::var("KELP_LINK_MAP") {
            println!("cargo:rustc-link-arg-bins=-Wl,-Map={map}");
        }
    }
}

/// Whether the binary is linked by LLD: Rust's own default on x86-64 Linux from 1.90, unless
/// the flags choose another linker (GNU ld knows no `--symbol-ordering-file`).
fn links_with_lld(rustc: &str, flags: &str) -> bool {
    if flags.contains("linker") || flags.contains("fuse-ld") {
        return flags.contains("fuse-ld=lld");
    }
    let Ok(output) = Command::new(rustc).arg("-V").output() else {
        return false;
    };
    // `rustc 1.95.0 (59807616e 2026-04-14)`
    let text = String::from_utf8_lossy(&output.stdout);
    let mut version = text
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .split(['.', '-'])
        .map(|part| part.parse::<u32>().unwrap_or(0));
    (version.next().unwrap_or(0), version.next().unwrap_or(0)) >= (1, 90)
}

/// The functions run from launch to the first idle frame, one symbol a line.
const STARTUP_TEXT: &str = "link/startup-text.txt";

/// Whether this machine's glibc is 2.36 or later (`getconf GNU_LIBC_VERSION` prints
/// `glibc 2.36`).
fn glibc_loads_packed_relocations() -> bool {
    let Ok(output) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let Some(version) = text.trim().strip_prefix("glibc ") else {
        return false;
    };
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) >= (2, 36)
}
