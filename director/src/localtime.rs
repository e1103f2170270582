//! Local time, for `version:date` (`YYYYMMDDHHMM`) and display.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Broken-down local time of `unix` seconds: (year, month, day, hour, minute, second).
pub fn local(unix: u64) -> (i64, u32, u32, u32, u32, u32) {
    let t = libc::time_t::try_from(unix).unwrap_or(libc::time_t::MAX);
    let mut tm = std::mem::MaybeUninit::<libc::tm>::zeroed();
    // SAFETY: `t` is a valid time_t and `tm` is writable storage for one tm;
    // localtime_r is the thread-safe form and writes only to `tm`.
    let ok = unsafe { !libc::localtime_r(&t, tm.as_mut_ptr()).is_null() };
    // SAFETY: zero-initialised, and filled by localtime_r when it succeeded.
    let tm = unsafe { tm.assume_init() };
    if !ok {
        return (1970, 1, 1, 0, 0, 0);
    }
    let u = |v: libc::c_int| u32::try_from(v).unwrap_or(0);
    (i64::from(tm.tm_year) + 1900, u(tm.tm_mon + 1), u(tm.tm_mday), u(tm.tm_hour), u(tm.tm_min), u(tm.tm_sec))
}

/// The `version:date` form of `unix`: local `YYYYMMDDHHMM`.
pub fn date_version(unix: u64) -> String {
    let (y, mo, d, h, mi, _) = local(unix);
    format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}")
}

/// `YYYY-MM-DD HH:MM:SS` local time.
pub fn display(unix: u64) -> String {
    let (y, mo, d, h, mi, s) = local(unix);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_versions_are_twelve_digits_and_sort_in_time_order() {
        let a = date_version(1_700_000_000);
        let b = date_version(1_800_000_000);
        assert_eq!(a.len(), 12);
        assert!(a.chars().all(|c| c.is_ascii_digit()));
        assert!(b > a);
    }
}
