//! Messages between actors on different members: the runtime's far route
//! (`ActorSystem::attach_far_route`) over NATS. Each member takes what is
//! sent to its actors on `NAME.msg.MEMBER`; a message is the sender's
//! member name (one length byte, then the name) and one batch frame of the
//! worker protocol (`runtime::remote::frame`).
//!
//! Outgoing messages are queued by the sending actor's thread (never
//! blocking it) and batched by one task, which publishes one frame per
//! member and batch: order is kept per sender and receiver. At most
//! 2^20 wait (the server may be unreachable); past that a
//! message is refused at once, as for a member that is gone.
//!
//! Everything that arrives is another host's word. A message is dropped
//! (and logged) unless its sender is a listed member; its frame must
//! decode within the frame bounds; every envelope must be addressed to
//! this member's block and come from the sender's block (a report without
//! a sender counts as the sender's own node). One that breaks this drops
//! the rest of its batch. The block map comes from the members' records
//! and is read again every heartbeat; a member whose record went away has
//! its block lost (`ActorSystem::block_lost`): asks waiting on it fail at
//! once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use actor_abi::Address;
use futures_util::StreamExt;
use runtime::ActorSystem;
use runtime::remote::frame::{self, Frame, MAX_BATCH, MAX_FRAME};
use runtime::remote::{Outbound, PeerGone, RemoteEnvelope, block_of, block_start};

use crate::convention::link::Link;
use crate::convention::members::{self, MemberRecord};

/// Which member holds which block, as the members' records say.
#[derive(Default)]
struct Blocks {
    by_block: HashMap<u32, String>,
    by_name: HashMap<String, u32>,
    /// When the records were last read.
    read: Option<Instant>,
}

/// How often a message from an unknown sender may make a member read the
/// records again (a member that just joined is not in the map yet).
const REREAD: Duration = Duration::from_millis(200);

/// How often a relayed ask looks whether its member is still listed.
const GONE_POLL: Duration = Duration::from_millis(250);

/// The actors the leader placed, by member, version and class, with the
/// addresses their members' records give (each checked to be in that
/// member's block): what a role lookup on another member answers.
#[derive(Default)]
struct PlacedActors(RwLock<HashMap<(String, String, String), Address>>);

/// The subject member `member` takes actor messages on.
pub fn message_subject(convention: &str, member: &str) -> String {
    format!("{convention}.msg.{}", member.replace('.', "_"))
}

/// The far route: queues each message for the batching task.
struct Far {
    blocks: Arc<RwLock<Blocks>>,
    queue: tokio::sync::mpsc::UnboundedSender<(String, RemoteEnvelope)>,
    /// Messages queued and not yet taken by the batching task.
    queued: Arc<AtomicUsize>,
}

/// The most messages queued for other members (while the server is
/// unreachable, say); past it a message is refused at once (a dead
/// letter; an ask fails) rather than held without bound.
const MAX_QUEUED: usize = 1 << 20;

impl Outbound for Far {
    fn send(&self, env: RemoteEnvelope) -> Result<(), PeerGone> {
        let node = env.to.node();
        let member = {
            let blocks = self.blocks.read().unwrap_or_else(|p| p.into_inner());
            blocks.by_block.get(&block_of(node)).cloned()
        };
        let member = member.ok_or(PeerGone(node))?;
        if self.queued.fetch_add(1, Ordering::Relaxed) >= MAX_QUEUED {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(PeerGone(node));
        }
        self.queue.send((member, env)).map_err(|_| PeerGone(node))
    }
}

/// Connects `system` (this member `name`, holding block `block`) to the
/// other members: its far route, its inbound subject, and the block map
/// (and the placed actors' addresses) kept up to date every heartbeat;
/// returns that view of the records, for the relay.
pub fn connect(link: &Link, system: &Arc<ActorSystem>, name: &str, block: u32) -> Result<Records, String> {
    let blocks = Arc::new(RwLock::new(Blocks::default()));
    let subject = message_subject(link.name(), name);
    let inbound = link
        .block_on(link.client().subscribe(subject.clone()))
        .map_err(|e| format!("subscribing to {subject}: {e}"))?;
    let (queue, outgoing) = tokio::sync::mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    system.attach_far_route(Arc::new(Far { blocks: blocks.clone(), queue, queued: queued.clone() }));
    let (client, convention) = (link.client().clone(), link.name().to_string());
    link.spawn(send_batches(client.clone(), convention.clone(), name.to_string(), outgoing, queued));
    let weak = Arc::downgrade(system);
    let placed = Arc::new(PlacedActors::default());
    let records = Records { client, convention, system: weak, blocks, placed };
    link.spawn(receive(inbound, records.clone(), block));
    link.spawn(keep_blocks(records.clone()));
    Ok(records)
}

/// Batches queued messages per member and publishes them.
async fn send_batches(
    client: async_nats::Client,
    convention: String,
    me: String,
    mut outgoing: tokio::sync::mpsc::UnboundedReceiver<(String, RemoteEnvelope)>,
    queued: Arc<AtomicUsize>,
) {
    let mut ready = Vec::new();
    loop {
        let taken = outgoing.recv_many(&mut ready, MAX_BATCH as usize).await;
        if taken == 0 {
            return;
        }
        queued.fetch_sub(taken, Ordering::Relaxed);
        let mut per_member: Vec<(String, Vec<RemoteEnvelope>)> = Vec::new();
        for (member, env) in ready.drain(..) {
            match per_member.iter_mut().find(|(m, _)| *m == member) {
                Some((_, envs)) => envs.push(env),
                None => per_member.push((member, vec![env])),
            }
        }
        for (member, envs) in per_member {
            for bytes in encode(&me, &envs) {
                if let Err(e) = client.publish(message_subject(&convention, &member), bytes.into()).await {
                    log::warn!("convention: sending {} message(s) to {member}: {e}", envs.len());
                }
            }
        }
    }
}

/// `envs` as messages of at most 512 KiB (a NATS server takes 1 MiB by
/// default), in order, each led by `me`: one message unless that is too
/// large, then halves (a single larger message goes alone).
fn encode(me: &str, envs: &[RemoteEnvelope]) -> Vec<Vec<u8>> {
    const CUT: usize = 512 << 10;
    let name = &me.as_bytes()[..me.len().min(255)];
    let mut bytes = Vec::with_capacity(1 + name.len() + 64 * envs.len());
    bytes.push(name.len() as u8);
    bytes.extend_from_slice(name);
    frame::encode_batch(envs, &mut bytes);
    if bytes.len() <= CUT || envs.len() < 2 {
        return vec![bytes];
    }
    let (left, right) = envs.split_at(envs.len() / 2);
    let mut out = encode(me, left);
    out.extend(encode(me, right));
    out
}

/// Delivers what other members send to this member's actors.
async fn receive(mut inbound: async_nats::Subscriber, records: Records, mine: u32) {
    while let Some(msg) = inbound.next().await {
        let Some(system) = records.system.upgrade() else { return };
        if let Some(name) = sender_of(&msg.payload) {
            records.lists(name).await;
        }
        if let Err(why) = deliver(&system, &msg.payload, mine, |name| records.block_of(name)) {
            log::warn!("convention: dropped actor messages: {why}");
        }
    }
}

/// The sender's name a message starts with, if it reads as one.
fn sender_of(payload: &[u8]) -> Option<&str> {
    let (&len, rest) = payload.split_first()?;
    std::str::from_utf8(rest.get(..usize::from(len))?).ok()
}

/// Checks and delivers one message from another member.
fn deliver(system: &ActorSystem, payload: &[u8], mine: u32, known: impl Fn(&str) -> Option<u32>) -> Result<(), String> {
    let (&len, rest) = payload.split_first().ok_or("an empty message")?;
    let (name, framed) = rest.split_at_checked(usize::from(len)).ok_or("a message shorter than its sender's name")?;
    let name = std::str::from_utf8(name).map_err(|_| "a sender name that is not UTF-8")?;
    let block = known(name).ok_or_else(|| format!("from {name:?}, which is not a listed member"))?;
    let prefix: [u8; 4] = framed.get(..4).and_then(|p| p.try_into().ok()).ok_or("no frame")?;
    let len = frame::body_len(prefix).map_err(|e| format!("from {name:?}: {e}"))?;
    let body = framed.get(4..).filter(|b| b.len() == len && len <= MAX_FRAME).ok_or("a frame of the wrong length")?;
    let Frame::Batch(envs) = frame::decode(body).map_err(|e| format!("from {name:?}: {e}"))? else {
        return Err(format!("from {name:?}: a control frame"));
    };
    for env in envs {
        let to = env.to;
        if block_of(to.node()) != mine {
            return Err(format!("from {name:?}: a message for {to}, not an actor of this member"));
        }
        let peer = if env.from.is_nobody() { block_start(block) } else { env.from.node() };
        if block_of(peer) != block {
            return Err(format!("from {name:?}: a message that says it is from {}", env.from));
        }
        system.deliver_remote(peer, env).map_err(|v| format!("from {name:?}: {v}"))?;
    }
    Ok(())
}

/// The members' records as this member reads them: who holds which
/// block, and where the placed actors are.
#[derive(Clone)]
pub struct Records {
    client: async_nats::Client,
    convention: String,
    system: std::sync::Weak<ActorSystem>,
    blocks: Arc<RwLock<Blocks>>,
    placed: Arc<PlacedActors>,
}

impl Records {
    fn block_of(&self, name: &str) -> Option<u32> {
        self.blocks.read().unwrap_or_else(|p| p.into_inner()).by_name.get(name).copied()
    }

    /// True if `name` is a listed member. A name not in the map may be a
    /// member that joined since the map was read: the records are read
    /// again (at most every 200 ms), and if that was too soon, `name`'s
    /// own record is looked up (one key, so a stray costs one read) and,
    /// when there is one, the map is read again at once.
    pub async fn lists(&self, name: &str) -> bool {
        if self.block_of(name).is_some() {
            return true;
        }
        if self.reread_soon().await {
            return self.block_of(name).is_some();
        }
        let record = members::record_of(&self.client, &self.convention, name).await;
        if record.is_ok_and(|r| r.is_some_and(|r| r.block != 0)) {
            self.reread().await;
        }
        self.block_of(name).is_some()
    }

    /// Returns once `member` is not a listed member (its record expired
    /// or it left), as the block map says every 250 ms; never,
    /// while it is.
    pub async fn gone(&self, member: &str) {
        if !self.lists(member).await {
            return;
        }
        while self.block_of(member).is_some() {
            tokio::time::sleep(GONE_POLL).await;
        }
    }

    /// The address of actor `class` of version `hash` on `member`, if its
    /// record names one.
    pub fn placed_address(&self, member: &str, hash: &str, class: &str) -> Option<Address> {
        let all = self.placed.0.read().unwrap_or_else(|p| p.into_inner());
        all.get(&(member.to_string(), hash.to_string(), class.to_string())).copied()
    }

    /// Reads the records again unless that was done within [`REREAD`];
    /// true if it read them.
    async fn reread_soon(&self) -> bool {
        let fresh = self.blocks.read().unwrap_or_else(|p| p.into_inner()).read.is_some_and(|at| at.elapsed() < REREAD);
        if !fresh {
            self.reread().await;
        }
        !fresh
    }

    /// The block map from the members' records; a member that left (or
    /// whose block changed) has its old block lost.
    async fn reread(&self) {
        let Ok(all) = members::list(&self.client, &self.convention).await else { return };
        let records: Vec<MemberRecord> = all.into_iter().filter_map(|m| m.record).filter(|r| r.block != 0).collect();
        *self.placed.0.write().unwrap_or_else(|p| p.into_inner()) = placed_in(&records);
        let mut now = Blocks { read: Some(Instant::now()), ..Blocks::default() };
        for r in records {
            now.by_block.insert(r.block, r.name.clone());
            now.by_name.insert(r.name, r.block);
        }
        let gone: Vec<(u32, String)> = {
            let mut held = self.blocks.write().unwrap_or_else(|p| p.into_inner());
            let gone = held.by_block.iter().filter(|(b, n)| now.by_block.get(b) != Some(n));
            let gone = gone.map(|(b, n)| (*b, n.clone())).collect();
            *held = now;
            gone
        };
        let Some(system) = self.system.upgrade() else { return };
        for (block, name) in gone {
            let failed = system.block_lost(block);
            log::warn!("convention: member {name} is gone: {failed} ask(s) waiting on its actors failed");
        }
    }
}

/// The placed actors `records` name; an address outside its member's own
/// block is ignored (and logged).
fn placed_in(records: &[MemberRecord]) -> HashMap<(String, String, String), Address> {
    let mut placed = HashMap::new();
    for r in records {
        for a in &r.actors {
            match Address::parse(&a.address) {
                Ok(addr) if block_of(addr.node()) == r.block => {
                    placed.insert((r.name.clone(), a.hash.clone(), a.class.clone()), addr);
                }
                _ => log::warn!(
                    "convention: member {} names {:?} for {}, not one of its own",
                    r.name,
                    a.address,
                    a.class
                ),
            }
        }
    }
    placed
}

/// Every heartbeat until the system is gone: the block map again.
async fn keep_blocks(records: Records) {
    while records.system.strong_count() > 0 {
        records.reread().await;
        tokio::time::sleep(members::HEARTBEAT).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actor_abi::Address;
    use runtime::remote::RemoteMessage;

    fn env(from: Address, to: Address) -> RemoteEnvelope {
        RemoteEnvelope { from, to, msg: RemoteMessage::ExitRequest }
    }

    #[test]
    fn messages_are_checked_before_anything_is_delivered() {
        let system = ActorSystem::start(runtime::SystemConfig::default().with_node(block_start(2))).unwrap();
        let known = |n: &str| (n == "m1").then_some(1);
        let (theirs, ours) = (Address::from_parts(block_start(1), 0, 5), Address::from_parts(block_start(2), 0, 9));
        let one = |me: &str, e: RemoteEnvelope| encode(me, &[e]).remove(0);
        let dead = system.dead_letters();
        assert_eq!(deliver(&system, &one("m1", env(theirs, ours)), 2, known), Ok(()));
        let e = deliver(&system, &one("m9", env(theirs, ours)), 2, known).unwrap_err();
        assert!(e.contains("not a listed member"), "{e}");
        let e = deliver(&system, &one("m1", env(theirs, theirs)), 2, known).unwrap_err();
        assert!(e.contains("not an actor of this member"), "{e}");
        let e = deliver(&system, &one("m1", env(Address::from_parts(block_start(3), 0, 1), ours)), 2, known);
        assert!(e.unwrap_err().contains("says it is from"));
        let mut cut = one("m1", env(theirs, ours));
        cut.pop();
        assert!(deliver(&system, &cut, 2, known).unwrap_err().contains("wrong length"));
        assert!(deliver(&system, &[], 2, known).is_err());
        assert_eq!(system.dead_letters(), dead + 1, "only the well-formed one got as far as routing (no such actor)");
        system.shutdown();
    }

    #[test]
    fn a_member_names_only_addresses_of_its_own_block() {
        let actor = |address: String| members::PlacedActor { hash: "h".into(), class: "c".into(), address };
        let record = |name: &str, block: u32, actors| MemberRecord {
            name: name.into(),
            pid: 1,
            leader: false,
            capabilities: serde_json::json!({}),
            versions: vec![],
            refused: vec![],
            unloaded: vec![],
            packages: vec![],
            settled: true,
            block,
            actors,
        };
        let own = Address::from_parts(block_start(2) + 1, 3, 4);
        let records = [
            record("m2", 2, vec![actor(own.to_string())]),
            record("m3", 3, vec![actor(own.to_string()), actor("garbage".into())]),
        ];
        let placed = placed_in(&records);
        assert_eq!(placed.len(), 1, "m3 claims m2's actor and garbage: both ignored");
        assert_eq!(placed.get(&("m2".into(), "h".into(), "c".into())), Some(&own));
    }

    #[test]
    fn a_large_batch_is_cut_into_messages_under_512_kib_in_order() {
        let big = RemoteMessage::Value(vec![7u8; 100 << 10].into_boxed_slice());
        let envs: Vec<RemoteEnvelope> = (0..12)
            .map(|i| RemoteEnvelope { from: Address::from_parts(0, 0, i + 1), to: Address::NOBODY, msg: big.clone() })
            .collect();
        let parts = encode("m1", &envs);
        assert!(parts.len() >= 3 && parts.iter().all(|p| p.len() <= 512 << 10), "{}", parts.len());
        let mut seen = Vec::new();
        for p in parts {
            let Frame::Batch(envs) = frame::decode(&p[3 + 4..]).unwrap() else { panic!("a batch") };
            seen.extend(envs.into_iter().map(|e| e.from.id()));
        }
        assert_eq!(seen, (1..=12).collect::<Vec<u64>>());
    }
}
