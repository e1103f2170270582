//! Facts about this process and machine for the report and the memory workloads.

pub use test_support::rss_of;

/// This process's resident set size in bytes (0 if unreadable).
pub fn rss_bytes() -> u64 {
    rss_of("self").unwrap_or(0)
}

/// Open file descriptors of this process (0 if unreadable).
pub fn open_fds() -> usize {
    test_support::open_fds().unwrap_or(0)
}

/// The CPU model name.
pub fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_string()))
        .unwrap_or_else(|| "unknown".into())
}

/// Logical cores.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// `rustc --version`.
pub fn rustc_version() -> String {
    std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}
