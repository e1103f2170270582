//! A plain logger for the daemon: one line per record on stderr (which is
//! the daemon's log file when it runs in the background), with the actor
//! address of records that come from package actors.

use std::io::Write;

struct StderrLog;

static LOGGER: StderrLog = StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, r: &log::Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let actor = r.key_values().get(log::kv::Key::from_str(runtime::ACTOR_ADDRESS_KEY)).map(|v| v.to_string());
        let actor = actor.filter(|a| !a.is_empty()).map(|a| format!(" [{a}]")).unwrap_or_default();
        let when = crate::localtime::display(crate::localtime::now_unix());
        let line = format!("{when} {} {}{actor}: {}\n", r.level(), r.target(), r.args());
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// Installs the logger at INFO.
pub fn install() {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}
