//! Build-time facts shared by the facade package and the runtime.
//!
//! The runtime picks a package's library by the target triple it was built
//! for; cargo only tells build scripts, so this records it as the
//! compile-time variable `THESPIAN_TARGET_TRIPLE`.

fn main() {
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_string());
    println!("cargo:rustc-env=THESPIAN_TARGET_TRIPLE={target}");
    // Only the target matters; cargo rebuilds this script when it changes.
    println!("cargo:rerun-if-env-changed=TARGET");
}
