//! Packs the binary's relative relocations (`-z pack-relative-relocs`, DT_RELR) where the C
//! library that kelp is built against can load them. A position-independent executable carries
//! one 24-byte record per pointer the loader fixes up at start; packed, they take a few kB
//! instead of half a megabyte, and there is less of the file to read in at every launch.
//!
//! glibc loads packed relocations from 2.36. The linker marks a binary that uses them as
//! needing `GLIBC_ABI_DT_RELR`, so one copied to an older system says so when it starts rather
//! than crashing. Elsewhere (another C library, a cross build, an older glibc) nothing changes.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let native = var("TARGET") == var("HOST");
    let linux_gnu = var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu";
    if native && linux_gnu && glibc_loads_packed_relocations() {
        println!("cargo:rustc-link-arg=-Wl,-z,pack-relative-relocs");
    }
}

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
