//! A plugin's `log` line reaches the host's logger with the actor's address.
//! (Its own test binary: the logger is process-global.)

mod common;

use std::sync::Mutex;

use actor_abi::Value;
use common::{T, eventually, load, system};
use runtime::ACTOR_ADDRESS_KEY;
use test_support::plugins;

struct Line {
    level: log::Level,
    target: String,
    text: String,
    actor: Option<String>,
}

static LINES: Mutex<Vec<Line>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let actor = record.key_values().get(log::kv::Key::from_str(ACTOR_ADDRESS_KEY)).map(|v| v.to_string());
        LINES.lock().unwrap().push(Line {
            level: record.level(),
            target: record.target().to_string(),
            text: record.args().to_string(),
            actor,
        });
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture;

#[test]
fn a_plugin_log_line_reaches_the_host_logger_with_the_actor_address() {
    log::set_logger(&CAPTURE).unwrap();
    log::set_max_level(log::LevelFilter::Info);
    let sys = system();
    let pkg = load(&sys, &plugins().misbehave, "misbehave", "1");
    let m = sys.create_actor(&pkg.hash, "misbehave.Actor").unwrap();
    assert_eq!(sys.ask(&m, "log", T).unwrap(), Value::from("logged"));
    let found = eventually(|| {
        LINES.lock().unwrap().iter().any(|l| {
            l.text == "misbehave says hello"
                && l.level == log::Level::Info
                && l.target == "misbehave"
                && l.actor.as_deref() == Some(m.to_string().as_str())
        })
    });
    assert!(found, "no INFO line with actor {m}");
    // A plugin panic is reported through the log too, never printed by the plugin's std.
    let _ = sys.ask(&m, actor_abi::value!({"panic": "logged panic"}), T);
    assert!(eventually(|| LINES
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.text.contains("logged panic") && l.actor.as_deref() == Some(m.to_string().as_str()))));
}
