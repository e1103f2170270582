//! Forwards a plugin's `log` records to the host's logger.
//!
//! Each cdylib carries its own copy of the `log` crate, whose logger is a
//! no-op until set. At load, the plugin's copy gets [`FORWARDER`], which
//! hands every record to the host; the host attaches the running actor's
//! address and passes it to its own logger.

use std::panic::PanicHookInfo;

use crate::deliver::panic_text;
use crate::ffi::{self, FfiStr};
use crate::host_table::host;

struct Forwarder;

static FORWARDER: Forwarder = Forwarder;

impl log::Log for Forwarder {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let text = match record.args().as_str() {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => std::borrow::Cow::Owned(record.args().to_string()),
        };
        forward(record.level(), record.target(), &text);
    }

    fn flush(&self) {}
}

fn forward(level: log::Level, target: &str, text: &str) {
    if let Some(h) = host() {
        // SAFETY: both strings are borrowed for the call; the host copies them.
        unsafe { (h.log)(ffi::level_to_u32(level), FfiStr::from_text(target), FfiStr::from_text(text)) }
    }
}

/// Installs the forwarder as this library's logger (a no-op if some logger
/// is already installed in this copy of `log`).
pub(crate) fn install(max_level: u32) {
    let _ = log::set_logger(&FORWARDER);
    log::set_max_level(ffi::filter_from_u32(max_level));
}

/// The plugin's panic hook: reports the panic to the host log instead of
/// printing to stderr (and never captures a backtrace, which would map the
/// library file for symbolisation and keep it mapped after unload).
pub(crate) fn panic_hook(info: &PanicHookInfo<'_>) {
    let place = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
    let text = format!("actor panicked{place}: {}", panic_text(info.payload()));
    forward(log::Level::Warn, "thespian::plugin", &text);
}
