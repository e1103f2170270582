//! Two members of a convention in this process (issue 14): each member is
//! its own actor system in its own node block, linked to the other by the
//! Director's NATS transport through a real `nats-server` on loopback.
//! C1: asks from one member's host to an echo on the other. C2: one-way
//! plain values from a sender on one member to a sink on the other. Both
//! run next to the same workload within one member, interleaved.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actor_abi::{Address, Message, value};
use director::convention::members::{self, MemberRecord};
use director::convention::{ConventionSettings, Link, slots, transport};
use runtime::{ActorSystem, PackageInfo, SystemConfig};
use test_support::nats::{NatsServer, PASSWORD, USER};

use crate::signer::{Error, Signer};

const LONG: Duration = Duration::from_secs(600);

/// One member: its system, benchpkg loaded, and its link.
struct Member {
    name: String,
    sys: Arc<ActorSystem>,
    pkg: PackageInfo,
    link: Arc<Link>,
}

/// Two members and their server (dropped last).
pub struct TwoMembers {
    a: Member,
    b: Member,
    _signer: Signer,
    _nats: NatsServer,
}

impl TwoMembers {
    /// Starts a nats-server, two members, and waits until each can reach the other.
    pub fn new() -> Result<TwoMembers, Error> {
        let nats = NatsServer::start();
        let signer = Signer::new()?;
        let lib = &test_support::plugins().benchpkg;
        let file = signer.package(lib, std::fs::read(lib)?, "bench", "1")?;
        let text = format!("{{'Url': {:?}, 'Name': 'bench', 'User': {USER:?}, 'Password': {PASSWORD:?}}}", nats.url());
        let settings = ConventionSettings::parse(&director::pyliteral::parse(&text)?, signer.dir())?;
        let a = Member::start(&settings, "a", &signer, &file)?;
        let b = Member::start(&settings, "b", &signer, &file)?;
        let two = TwoMembers { a, b, _signer: signer, _nats: nats };
        two.wait_linked()?;
        two.answer_floor_requests()?;
        Ok(two)
    }

    /// Member b's connection answers every request on `bench.floor` with
    /// its own payload (see [`TwoMembers::nats_round_trips`]).
    fn answer_floor_requests(&self) -> Result<(), Error> {
        use futures_util::StreamExt;
        let b = self.b.link.client().clone();
        let mut requests = self.b.link.block_on(b.subscribe("bench.floor"))?;
        self.b.link.block_on(b.flush())?;
        self.b.link.spawn(async move {
            while let Some(m) = requests.next().await {
                if let Some(reply) = m.reply {
                    let _ = b.publish(reply, m.payload).await;
                }
            }
        });
        Ok(())
    }

    /// Each member reads the other's block from the membership records
    /// every heartbeat: ask until an echo on each side answers.
    fn wait_linked(&self) -> Result<(), Error> {
        for (from, to) in [(&self.a, &self.b), (&self.b, &self.a)] {
            let echo = to.actor("bench.echo")?;
            let deadline = Instant::now() + Duration::from_secs(10);
            while from.sys.ask(&echo, 0, Duration::from_millis(200)).is_err() {
                if Instant::now() > deadline {
                    return Err("the two members did not reach each other within 10 s".into());
                }
            }
            to.sys.tell_message(&echo, Message::ActorExitRequest);
        }
        Ok(())
    }

    /// C1: `n` asks from member a's host to an echo on member b (or on a
    /// itself with `remote` false); the latency of each.
    pub fn asks(&self, n: u64, remote: bool) -> Result<Vec<Duration>, Error> {
        let there = if remote { &self.b } else { &self.a };
        let echo = there.actor("bench.echo")?;
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n {
            let start = Instant::now();
            self.a.sys.ask(&echo, i, LONG)?;
            out.push(start.elapsed());
        }
        there.sys.tell_message(&echo, Message::ActorExitRequest);
        Ok(out)
    }

    /// C2: `n` plain values from a sender on member a to a sink on member
    /// b (or on a itself with `remote` false).
    pub fn tells(&self, n: u64, remote: bool) -> Result<Duration, Error> {
        let there = if remote { &self.b } else { &self.a };
        let sender = self.a.actor("bench.sender")?;
        let sink = there.actor("bench.sink")?;
        let done = there.sys.ask_async(&sink, value!({"expect": n}), LONG);
        let start = Instant::now();
        self.a.sys.tell(&sender, value!({"run": n, "to": sink.to_string(), "typed": false}));
        test_support::block_on(done)?;
        let took = start.elapsed();
        self.a.sys.tell_message(&sender, Message::ActorExitRequest);
        there.sys.tell_message(&sink, Message::ActorExitRequest);
        Ok(took)
    }
}

impl TwoMembers {
    /// C1's floor: `n` NATS requests from member a's connection, each
    /// answered by a responder on member b's connection (no actors): what
    /// one round trip through nats-server costs with this client here.
    pub fn nats_round_trips(&self, n: u64) -> Result<Vec<Duration>, Error> {
        let a = self.a.link.client().clone();
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n {
            let start = Instant::now();
            self.a.link.block_on(a.request("bench.floor", i.to_le_bytes().to_vec().into()))?;
            out.push(start.elapsed());
        }
        Ok(out)
    }
}

impl Member {
    fn start(
        settings: &ConventionSettings,
        name: &str,
        signer: &Signer,
        file: &std::path::Path,
    ) -> Result<Member, Error> {
        let link = Arc::new(Link::connect(settings, name)?);
        let block = slots::claim(&link, name)?;
        let config = SystemConfig::default().with_node(runtime::remote::block_start(block));
        let sys = Arc::new(ActorSystem::start(config)?);
        let pkg = signer.load(&sys, file)?;
        let record = MemberRecord {
            name: name.to_string(),
            pid: std::process::id(),
            leader: false,
            capabilities: serde_json::json!({}),
            versions: Vec::new(),
            refused: Vec::new(),
            unloaded: Vec::new(),
            packages: Vec::new(),
            settled: true,
            block,
            actors: Vec::new(),
        };
        members::start_heartbeat(&link, move || record.clone())?;
        transport::connect(&link, &sys, name, block)?;
        Ok(Member { name: name.to_string(), sys, pkg, link })
    }

    fn actor(&self, class: &str) -> Result<Address, Error> {
        Ok(self.sys.create_actor(&self.pkg.hash, class)?)
    }
}

impl Drop for TwoMembers {
    fn drop(&mut self) {
        for m in [&self.a, &self.b] {
            let _ = members::leave(&m.link, &m.name);
        }
    }
}
