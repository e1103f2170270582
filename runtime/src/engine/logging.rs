//! Which actor is running on this thread, and the path of package log lines
//! into the host's logger.

use std::cell::Cell;

use actor_abi::Address;

thread_local! {
    static CURRENT: Cell<Address> = const { Cell::new(Address::NOBODY) };
}

/// The actor whose handler runs on this thread ([`Address::NOBODY`] outside one).
pub fn current_actor() -> Address {
    CURRENT.with(Cell::get)
}

/// Runs `f` with `addr` recorded as the running actor.
pub(crate) fn with_current<R>(addr: Address, f: impl FnOnce() -> R) -> R {
    let before = CURRENT.with(|c| c.replace(addr));
    let out = f();
    CURRENT.with(|c| c.set(before));
    out
}

/// The key under which a package log record carries the actor's address.
pub const ACTOR_ADDRESS_KEY: &str = "actorAddress";

/// Passes one line from a package to the host's logger, with the running
/// actor's address as the `actorAddress` key-value.
pub(crate) fn package_log(level: log::Level, target: &str, message: &str) {
    log_for(current_actor(), level, target, message);
}

/// Passes one line to the host's logger with `addr` as the `actorAddress`
/// key-value (empty for nobody): a package's line, or a worker's.
pub(crate) fn log_for(addr: Address, level: log::Level, target: &str, message: &str) {
    if level > log::max_level() {
        return;
    }
    let addr_text = if addr.is_nobody() { String::new() } else { addr.to_string() };
    let kvs = [(ACTOR_ADDRESS_KEY, addr_text.as_str())];
    log::logger().log(
        &log::Record::builder().level(level).target(target).args(format_args!("{message}")).key_values(&kvs).build(),
    );
}
