//! The `log::Log` that routes records like Python's logger hierarchy: the
//! most specific configured logger decides the level, then its handlers and
//! (while `propagate`) its ancestors' handlers get the record. The daemon's
//! own system log handler gets every record at INFO and above as well.

use log::{Log, Metadata, Record};

use crate::logging::dictconfig::{LoggerSpec, Spec};
use crate::logging::format::{Fields, level_number};
use crate::logging::sink::Handler;

/// The installed logger.
pub struct Dispatcher {
    pub(crate) system: Option<Handler>,
    pub(crate) spec: Spec,
}

/// Rust targets (`a::b`) as Python logger names (`a.b`).
fn logger_name(target: &str) -> String {
    target.replace("::", ".")
}

fn is_within(name: &str, logger: &str) -> bool {
    name == logger || name.starts_with(&format!("{logger}."))
}

impl Dispatcher {
    /// Configured loggers that contain `name`, most specific first, then root.
    fn chain<'a>(&'a self, name: &str) -> Vec<&'a LoggerSpec> {
        let mut hits: Vec<&(String, LoggerSpec)> =
            self.spec.loggers.iter().filter(|(n, _)| is_within(name, n)).collect();
        hits.sort_by_key(|(n, _)| std::cmp::Reverse(n.len()));
        let mut chain: Vec<&LoggerSpec> = hits.into_iter().map(|(_, l)| l).collect();
        chain.push(&self.spec.root);
        chain
    }

    /// The lowest level any part of this configuration wants (for `log::set_max_level`).
    pub fn max_level(&self) -> log::LevelFilter {
        let lowest = self
            .spec
            .loggers
            .iter()
            .map(|(_, l)| l)
            .chain(std::iter::once(&self.spec.root))
            .filter_map(|l| l.level)
            .chain(self.system.iter().map(|h| h.level))
            .min()
            .unwrap_or(20);
        match lowest {
            n if n <= 5 => log::LevelFilter::Trace,
            n if n <= 10 => log::LevelFilter::Debug,
            n if n <= 20 => log::LevelFilter::Info,
            n if n <= 30 => log::LevelFilter::Warn,
            _ => log::LevelFilter::Error,
        }
    }
}

impl Log for Dispatcher {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, r: &Record<'_>) {
        let name = logger_name(r.target());
        let actor = r
            .key_values()
            .get(log::kv::Key::from_str(runtime::ACTOR_ADDRESS_KEY))
            .map(|v| v.to_string())
            .unwrap_or_default();
        let message = r.args().to_string();
        let unix_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let fields = Fields {
            unix_ms,
            actor: &actor,
            name: &name,
            level: r.level(),
            message: &message,
            file: r.file(),
            line: r.line(),
        };
        if let Some(system) = &self.system {
            system.emit(&fields);
        }
        let chain = self.chain(&name);
        let effective = chain.iter().find_map(|l| l.level).unwrap_or(30);
        if level_number(r.level()) < effective {
            return;
        }
        for logger in chain {
            for &h in &logger.handlers {
                if let Some(handler) = self.spec.handlers.get(h) {
                    handler.emit(&fields);
                }
            }
            if !logger.propagate {
                break;
            }
        }
    }

    fn flush(&self) {}
}
