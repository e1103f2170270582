//! `ask` and `tell` by role or global name, from the control socket or
//! from another member: resolved here first; a role whose actor the
//! convention's leader placed on another member is relayed there
//! ([`Relay`], `convention::relay`). A relayed message is only ever
//! resolved locally on the member that receives it (no second hop).
//!
//! # Resolution and delivery are one step
//!
//! A name is resolved and its message queued for the actor under one hold
//! of the state lock; only the wait for an answer happens without it. An
//! unload retires a version under that lock before it queues the exit
//! requests, so a message resolved to the old version is in its actors'
//! mailboxes ahead of them (and is answered), and one resolved after goes
//! to the version that took over. Queueing never blocks: mailboxes and
//! worker links take the message or refuse it at once.

use std::sync::Arc;
use std::time::Duration;

use actor_abi::Value;
use runtime::AskError;

use crate::daemon::core::{DirectorError, fail};
use crate::daemon::operations::Director;
use crate::daemon::relay::Relay;
use crate::protocol::{ErrorKind, Send};

/// The longest an ask may wait: a day (as the CLI's `--timeout`).
pub const MAX_ASK_MS: u64 = 24 * 60 * 60 * 1000;

/// An ask's timeout, if it is within 1 ms..=[`MAX_ASK_MS`] (the control
/// socket and other members may send anything).
fn ask_timeout(send: &Send) -> Result<Duration, DirectorError> {
    match send.timeout_ms {
        1..=MAX_ASK_MS => Ok(Duration::from_millis(send.timeout_ms)),
        ms => Err(fail(ErrorKind::BadRequest, format!("timeout_ms {ms} is outside 1..={MAX_ASK_MS}"))),
    }
}

impl Director {
    /// Asks the role or global name `send.target` and waits for its reply:
    /// here, or on the member the role was placed on.
    pub fn ask(&self, send: &Send) -> Result<Value, DirectorError> {
        ask_timeout(send)?;
        match self.relay_to(send) {
            Some((member, relay)) => relay.relay(&member, send, false).map(Value::from_json),
            None => self.ask_here(send),
        }
    }

    /// Tells the role or global name `send.target`: here, or on the member
    /// the role was placed on.
    pub fn tell(&self, send: &Send) -> Result<(), DirectorError> {
        match self.relay_to(send) {
            Some((member, relay)) => relay.relay(&member, send, true).map(drop),
            None => self.tell_here(send),
        }
    }

    /// [`Director::ask`] without relaying: the target must be here.
    pub fn ask_here(&self, send: &Send) -> Result<Value, DirectorError> {
        let timeout = ask_timeout(send)?;
        let message = Value::from_json(send.message.clone());
        // Resolve and queue under the lock (see the module doc), wait without it.
        let pending = {
            let state = self.state();
            let addr = state.target(&send.target, send.group.as_deref(), send.source.as_deref())?;
            self.system().send_ask(&addr, message)
        };
        let addr = pending.target();
        pending.wait(timeout).map_err(|e| {
            let kind = match &e {
                AskError::Timeout { .. } => ErrorKind::Timeout,
                AskError::Poisoned { .. } => ErrorKind::Poisoned,
                AskError::NoSuchActor(_) | AskError::TargetExited(_) => ErrorKind::NotFound,
                _ => ErrorKind::Failed,
            };
            fail(kind, format!("{} ({addr}): {e}", send.target))
        })
    }

    /// [`Director::tell`] without relaying.
    pub fn tell_here(&self, send: &Send) -> Result<(), DirectorError> {
        let message = Value::from_json(send.message.clone());
        let state = self.state();
        let addr = state.target(&send.target, send.group.as_deref(), send.source.as_deref())?;
        self.system().tell(&addr, message);
        Ok(())
    }

    /// The member and relay for a target placed on another member.
    fn relay_to(&self, send: &Send) -> Option<(String, Arc<dyn Relay>)> {
        let state = self.state();
        let relay = state.relay.clone()?;
        let member = state.role_member(&send.target, send.group.as_deref(), send.source.as_deref())?;
        Some((member, relay))
    }
}
