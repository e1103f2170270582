//! The public face of the runtime: [`ActorSystem`], the handle a host
//! program embeds. Every method hands over to the engine (`crate::engine`);
//! this file holds no state and no lock of its own.

use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use actor_abi::{Actor, Address, Message, Value};

use crate::config::SystemConfig;
use crate::engine::nodes::{self, RouteKind};
use crate::engine::package::{load, unload};
use crate::engine::payload::{Done, Envelope, Payload};
use crate::engine::reply::{self, AskFuture, PendingAsk, ReplySlot, far_future};
use crate::engine::route::{route, route_envelope};
use crate::engine::shutdown;
use crate::engine::spawn;
use crate::engine::state::EngineState;
use crate::error::{AskError, CreateActorError, LoadError, StartError, UnloadError};
use crate::package::{PackageInfo, VerifiedPackage};
use crate::remote::stream::{Channel, Connection};
use crate::remote::{Outbound, RemoteEnvelope, Violation};
use crate::report::{ResidentState, ShutdownReport, UnloadReport};

/// A live actor, as [`ActorSystem::actors`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorInfo {
    /// Its address; `address.home()` is the loaded version it runs in
    /// ([`PackageInfo::home`]), `0` for host actors.
    pub address: Address,
    /// Its class (for host actors, the Rust type name).
    pub class: String,
    /// Its global name, if it has one.
    pub global_name: Option<String>,
    /// When it was created.
    pub created: SystemTime,
}

/// Options for [`ActorSystem::create_actor_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateOptions {
    /// A global name; if an actor has it, that actor is returned instead.
    pub global_name: Option<String>,
    /// The parent, which gets `ChildActorExited` when the actor stops.
    pub parent: Option<Address>,
}

/// An in-process actor system that runs host actors and actors from loaded
/// packages. Dropping it shuts it down.
///
/// ```
/// use std::time::Duration;
/// use actor_abi::{Actor, Address, Context, Message};
/// use runtime::ActorSystem;
///
/// struct Echo;
/// impl Actor for Echo {
///     fn receive(&mut self, cx: &mut Context<'_>, msg: &Message, from: Address) {
///         if let Message::Value(v) = msg {
///             cx.send(&from, v.clone());
///         }
///     }
/// }
///
/// let system = ActorSystem::start_default()?;
/// let echo = system.create_host_actor(Echo);
/// assert_eq!(system.ask(&echo, "hi", Duration::from_secs(5))?, "hi".into());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ActorSystem {
    engine: Arc<EngineState>,
    down: AtomicBool,
}

impl ActorSystem {
    /// Starts a system with `config`.
    pub fn start(config: SystemConfig) -> Result<ActorSystem, StartError> {
        Ok(ActorSystem { engine: EngineState::start(config)?, down: AtomicBool::new(false) })
    }

    /// Starts a system with the default configuration.
    pub fn start_default() -> Result<ActorSystem, StartError> {
        ActorSystem::start(SystemConfig::default())
    }

    /// Creates a host actor.
    pub fn create_host_actor<A: Actor>(&self, actor: A) -> Address {
        spawn::create_host_actor(&self.engine, type_name::<A>(), None, || Box::new(actor))
    }

    /// Creates a host actor under a global name; if an actor with that name
    /// exists, returns its address and does not call `make`.
    pub fn create_named_host_actor<A: Actor>(&self, global_name: &str, make: impl FnOnce() -> A) -> Address {
        spawn::create_host_actor(&self.engine, type_name::<A>(), Some(global_name), || Box::new(make()))
    }

    /// Creates an actor of `class` from the loaded package whose hash is
    /// `package` (or a unique prefix of it).
    pub fn create_actor(&self, package: &str, class: &str) -> Result<Address, CreateActorError> {
        self.create_actor_with(package, class, CreateOptions::default())
    }

    /// As [`ActorSystem::create_actor`], under a global name: if an actor
    /// with that name exists, its address is returned and nothing is created.
    pub fn create_named_actor(
        &self,
        package: &str,
        class: &str,
        global_name: &str,
    ) -> Result<Address, CreateActorError> {
        let options = CreateOptions { global_name: Some(global_name.to_string()), parent: None };
        self.create_actor_with(package, class, options)
    }

    /// Creates an actor of `class` in `package` with options: a global name,
    /// and a parent actor that gets `ChildActorExited` when it stops. A
    /// parent of this node must be alive; one of another node (the node
    /// that started this one) is taken on trust and only gets told.
    pub fn create_actor_with(
        &self,
        package: &str,
        class: &str,
        options: CreateOptions,
    ) -> Result<Address, CreateActorError> {
        let version =
            self.engine.find_version(package).map_err(|_| CreateActorError::NoSuchPackage(package.to_string()))?;
        let local_parent = match options.parent {
            Some(p) if p.node() == self.engine.node() => {
                Some(self.engine.live_cell(p).ok_or(CreateActorError::NoSuchParent(p))?)
            }
            _ => None,
        };
        let parent = match (&local_parent, options.parent) {
            (Some(cell), _) => spawn::Parent::Here(cell),
            (None, Some(remote)) => spawn::Parent::Elsewhere(remote),
            (None, None) => spawn::Parent::None,
        };
        spawn::create_package_actor(&self.engine, &version, class, options.global_name.as_deref(), parent)
    }

    /// Points the global name `name` at the live actor `addr` (moving it from
    /// whichever actor had it). False if `addr` is not a live actor. An
    /// actor of another node counts as live while its node has a route; its
    /// name goes when the node does.
    pub fn assign_global_name(&self, name: &str, addr: &Address) -> bool {
        self.engine.assign_name(name, *addr)
    }

    /// Takes the global name `name` from `addr`, if `addr` still holds it
    /// (a name another actor took since is left alone). True if it did.
    pub fn release_global_name(&self, name: &str, addr: &Address) -> bool {
        self.engine.forget_name(name, *addr)
    }

    /// True if `addr` is a live actor.
    pub fn is_alive(&self, addr: &Address) -> bool {
        self.engine.is_actor(*addr)
    }

    /// Sends `msg` and waits until the target's handler has run for it (not
    /// for a reply). Fails at once if the target does not exist or stops first.
    pub fn tell_delivered(&self, to: &Address, msg: Message, timeout: Duration) -> Result<(), AskError> {
        let done = Arc::new(ReplySlot::default());
        let env = Envelope { from: Address::NOBODY, payload: Payload::native_tracked(msg, Done::Here(done.clone())) };
        route_envelope(&self.engine, *to, env);
        match done.wait_until(Instant::now().checked_add(timeout).unwrap_or_else(far_future)) {
            Some(r) => r.map(|_| ()),
            None => Err(AskError::Timeout { target: *to, after: timeout }),
        }
    }

    /// The live actor with this global name.
    pub fn lookup_name(&self, global_name: &str) -> Option<Address> {
        self.engine.live_name(global_name)
    }

    /// Sends a value to an actor. Replies go nowhere (dead letters).
    pub fn tell(&self, to: &Address, msg: impl Into<Value>) {
        self.tell_message(to, Message::Value(msg.into()));
    }

    /// Sends any message (for example [`Message::ActorExitRequest`]).
    pub fn tell_message(&self, to: &Address, msg: Message) {
        route(&self.engine, Address::NOBODY, *to, Payload::native(msg));
    }

    /// Sends `msg` to `to` as if `from` had sent it: `to` sees `from` as
    /// the sender, so its answer goes straight to `from`. For host code
    /// that passes a request on for an actor (the Director's
    /// `SendToRole`); packages cannot do this.
    ///
    /// ```no_run
    /// # use runtime::ActorSystem;
    /// # use actor_abi::{Address, Message, Value};
    /// # let system = ActorSystem::start_default()?;
    /// # let (asker, worker) = (Address::NOBODY, Address::NOBODY);
    /// system.forward(&asker, &worker, Message::Value(Value::from("job")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn forward(&self, from: &Address, to: &Address, msg: Message) {
        route(&self.engine, *from, *to, Payload::native(msg));
    }

    /// Sends `msg` and waits up to `timeout` for the reply. Fails at once if
    /// there is no such actor or its handler panicked on the message twice.
    pub fn ask(&self, to: &Address, msg: impl Into<Value>, timeout: Duration) -> Result<Value, AskError> {
        self.send_ask(to, msg).wait(timeout)
    }

    /// The first half of [`ActorSystem::ask`]: queues the message for `to`
    /// now and returns the ask to wait for later. A caller that resolves a
    /// name under its own lock can send under that lock and wait after
    /// releasing it, so that the message is queued before anything the
    /// lock's next holder does (an unload's exit request, say).
    ///
    /// ```no_run
    /// # use runtime::ActorSystem;
    /// # use std::time::Duration;
    /// # let system = ActorSystem::start_default()?;
    /// # let addr = system.lookup_name("Counter").unwrap();
    /// let pending = system.send_ask(&addr, "count");
    /// let reply = pending.wait(Duration::from_secs(5))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_ask(&self, to: &Address, msg: impl Into<Value>) -> PendingAsk {
        let pending = PendingAsk::new(&self.engine, *to);
        route(&self.engine, pending.reply_address(), *to, Payload::native(Message::Value(msg.into())));
        pending
    }

    /// The async form of [`ActorSystem::ask`]; works under any executor.
    pub fn ask_async(&self, to: &Address, msg: impl Into<Value>, timeout: Duration) -> AskFuture {
        let future = reply::open_async(&self.engine, *to, timeout);
        route(&self.engine, future.reply_address(), *to, Payload::native(Message::Value(msg.into())));
        future
    }

    /// How many messages could not be delivered so far.
    pub fn dead_letters(&self) -> u64 {
        self.engine.dead_letters()
    }

    /// Loads a verified package: its code is copied into a fresh private
    /// directory, opened, ABI-checked and given its own threads. No actors
    /// are created; use [`ActorSystem::create_actor`].
    pub fn load(&self, pkg: VerifiedPackage) -> Result<PackageInfo, LoadError> {
        load::load(&self.engine, pkg)
    }

    /// Unloads the version with this hash (or unique prefix): stops its
    /// actors, joins its threads, closes its library and reports whether the
    /// code really left the process. The actors get up to the system's
    /// [`unload_grace`](SystemConfig::unload_grace) to answer what they hold
    /// (see [`ActorSystem::unload_within`]).
    pub fn unload(&self, hash: &str) -> Result<UnloadReport, UnloadError> {
        self.unload_within(hash, self.engine.unload_grace())
    }

    /// [`ActorSystem::unload`] with its own drain limit. Each actor gets
    /// `ActorExitRequest` behind the messages it already holds, so it
    /// answers them before it stops; whatever is still queued when `drain`
    /// runs out is dropped as dead letters and counted in
    /// [`UnloadReport::undelivered`]. Make the version unreachable by name
    /// first, or new messages keep joining the queue.
    ///
    /// ```no_run
    /// # use runtime::ActorSystem;
    /// # use std::time::Duration;
    /// let system = ActorSystem::start_default()?;
    /// let report = system.unload_within("4f1c", Duration::from_secs(30))?;
    /// if report.undelivered > 0 {
    ///     eprintln!("{} message(s) were never handled", report.undelivered);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unload_within(&self, hash: &str, drain: Duration) -> Result<UnloadReport, UnloadError> {
        let version = self.engine.take_version(hash)?;
        Ok(unload::unload(&self.engine, version, drain))
    }

    /// Looks again at every version whose code stayed resident when it was
    /// unloaded: one whose last handler has returned since is unloaded the
    /// rest of the way, one whose library is no longer mapped is freed (its
    /// directory removed). Returns each one's state now; a freed one is
    /// reported this once and then forgotten.
    pub fn recheck_resident(&self) -> Vec<ResidentState> {
        unload::recheck(&self.engine)
    }

    /// The loaded versions, in load order.
    pub fn packages(&self) -> Vec<PackageInfo> {
        self.engine.packages()
    }

    /// The live actors (not the reply slots of asks in flight), by id.
    pub fn actors(&self) -> Vec<ActorInfo> {
        let info = |c: Arc<crate::engine::cell::ActorCell>| ActorInfo {
            address: c.addr,
            class: c.class.clone(),
            global_name: c.global_name.clone(),
            created: c.created,
        };
        self.engine.live_actors().into_iter().map(info).collect()
    }

    /// This system's node number (see [`SystemConfig::node`]).
    pub fn node(&self) -> u32 {
        self.engine.node()
    }

    /// Sends every message for an actor of `node` through `link` from now
    /// on (replacing the route it had). Only plain data crosses: values,
    /// exit requests, child exits, wakeups and poison notices about values.
    pub fn attach_node(&self, node: u32, link: Arc<dyn Outbound>) {
        nodes::attach(&self.engine, node, link);
    }

    /// Sends messages for the nodes of other blocks (other hosts; see
    /// [`crate::remote::NODE_BLOCK_BITS`]) that have no route of their own
    /// through `link`, from this system and from the processes it started.
    pub fn attach_far_route(&self, link: Arc<dyn Outbound>) {
        nodes::attach_far(&self.engine, link);
    }

    /// The host of node block `block` went away: every ask waiting on one
    /// of its actors fails at once with [`AskError::NodeLost`], and their
    /// global names are dropped; returns how many asks failed.
    pub fn block_lost(&self, block: u32) -> usize {
        nodes::block_lost(&self.engine, block)
    }

    /// Sends messages for every node without a route of its own through
    /// `link` (a worker's way back to the system that started it).
    pub fn attach_default_route(&self, link: Arc<dyn Outbound>) {
        nodes::attach_default(&self.engine, link);
    }

    /// Forgets the route to `node` (its process ended) and fails every ask
    /// waiting on one of its actors at once with [`AskError::NodeLost`];
    /// returns how many asks failed. Later messages for it are dead letters.
    pub fn detach_node(&self, node: u32) -> usize {
        nodes::lost(&self.engine, node)
    }

    /// Delivers a message that the transport of node `peer` received: to
    /// an actor here, or relayed to the node it names if this system has a
    /// route there. A [`Violation`] (the peer spoke for another node's
    /// actor, or sent a message back to its own node) delivers nothing; the
    /// transport should then drop the peer.
    pub fn deliver_remote(&self, peer: u32, env: RemoteEnvelope) -> Result<(), Violation> {
        nodes::deliver_in(&self.engine, peer, env)
    }

    /// Connects the node `peer` over `stream` (one end of a Unix
    /// socketpair, the other end served by the peer's own actor system):
    /// messages for its actors are batched onto the stream (with
    /// [`RouteKind::Default`], messages for every node without a route of
    /// its own), and what it sends is checked and delivered here. When the
    /// stream ends or the peer breaks the protocol, the route goes and every
    /// ask waiting on that side fails at once.
    /// A control message from the peer is a violation (it is dropped); see
    /// [`ActorSystem::connect_with_control`].
    pub fn connect(&self, peer: u32, stream: UnixStream, kind: RouteKind) -> std::io::Result<Connection> {
        nodes::connect(&self.engine, peer, Channel::Socket(stream), kind, None, None)
    }

    /// As [`ActorSystem::connect`], handing the peer's control messages to
    /// `control` (a worker process and the system that started it talk
    /// this way).
    pub fn connect_with_control(
        &self,
        peer: u32,
        stream: UnixStream,
        kind: RouteKind,
        control: std::sync::mpsc::Sender<crate::remote::Control>,
    ) -> std::io::Result<Connection> {
        self.connect_channel(peer, Channel::Socket(stream), kind, control)
    }

    /// As [`ActorSystem::connect_with_control`] over any channel (a worker
    /// to the system that started it).
    pub(crate) fn connect_channel(
        &self,
        peer: u32,
        channel: Channel,
        kind: RouteKind,
        control: std::sync::mpsc::Sender<crate::remote::Control>,
    ) -> std::io::Result<Connection> {
        nodes::connect(&self.engine, peer, channel, kind, Some(control), None)
    }

    /// As [`ActorSystem::connect_with_control`] for a worker this system
    /// started: `on_violation` runs if it is dropped for breaking the protocol.
    pub(crate) fn connect_worker(
        &self,
        peer: u32,
        channel: Channel,
        control: std::sync::mpsc::Sender<crate::remote::Control>,
        on_violation: nodes::ViolationHook,
    ) -> std::io::Result<Connection> {
        nodes::connect(&self.engine, peer, channel, RouteKind::Node, Some(control), Some(on_violation))
    }

    /// Makes `authority` the keeper of this system's global names (a
    /// worker's, the system that started it); set once.
    pub(crate) fn set_name_authority(&self, authority: Arc<dyn crate::remote::NameAuthority>) {
        self.engine.set_name_authority(authority);
    }

    /// A node number for a process this system starts.
    pub(crate) fn new_node(&self) -> u32 {
        self.engine.new_node()
    }

    /// Where package libraries are written; pass it to
    /// [`SourceAuthority::stage_file`](crate::tls::SourceAuthority::stage_file).
    pub fn extract_root(&self) -> &Path {
        self.engine.extract_root()
    }

    /// Stops every actor and unloads every package (no `OnDeactivate`, only
    /// `ActorExitRequest`). Calling it again does nothing.
    pub fn shutdown(&self) -> ShutdownReport {
        if self.down.swap(true, Ordering::AcqRel) {
            return ShutdownReport::default();
        }
        shutdown::shutdown(&self.engine)
    }
}

fn type_name<A>() -> String {
    std::any::type_name::<A>().to_string()
}

impl Drop for ActorSystem {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
#[path = "system_tests.rs"]
mod tests;
