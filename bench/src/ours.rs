//! Our runtime on W1-W5: the benchmark package loaded from signed packages.

use std::time::{Duration, Instant};

use actor_abi::{Address, Message, value};
use runtime::{ActorSystem, PackageInfo, SystemConfig};

use crate::machine::rss_bytes;
use crate::signer::{Error, Signer};

const LONG: Duration = Duration::from_secs(600);

/// A system with two versions of the benchmark package loaded.
pub struct Ours {
    sys: ActorSystem,
    a: PackageInfo,
    b: PackageInfo,
    _signer: Signer,
}

impl Ours {
    /// Starts the system and loads benchpkg 1 and 2.
    pub fn new() -> Result<Ours, Error> {
        let lib = &test_support::plugins().benchpkg;
        let signer = Signer::new()?;
        let sys = ActorSystem::start(SystemConfig::default())?;
        let a = signer.load(&sys, &signer.package(lib, std::fs::read(lib)?, "bench", "1")?)?;
        let b = signer.load(&sys, &signer.package(lib, std::fs::read(lib)?, "bench", "2")?)?;
        Ok(Ours { sys, a, b, _signer: signer })
    }

    fn actor(&self, pkg: &PackageInfo, class: &str) -> Result<Address, Error> {
        Ok(self.sys.create_actor(&pkg.hash, class)?)
    }

    fn one_way(&self, from: &PackageInfo, to: &PackageInfo, n: u64, typed: bool) -> Result<Duration, Error> {
        let sender = self.actor(from, "bench.sender")?;
        let sink = self.actor(to, "bench.sink")?;
        let done = self.sys.ask_async(&sink, value!({"expect": n}), LONG);
        let start = Instant::now();
        self.sys.tell(&sender, value!({"run": n, "to": sink.to_string(), "typed": typed}));
        test_support::block_on(done)?;
        let took = start.elapsed();
        self.sys.tell_message(&sender, Message::ActorExitRequest);
        self.sys.tell_message(&sink, Message::ActorExitRequest);
        Ok(took)
    }

    /// W1: `n` one-way typed messages between two actors of one package.
    pub fn w1(&self, n: u64) -> Result<Duration, Error> {
        self.one_way(&self.a, &self.a, n, true)
    }

    /// W5: `n` plain values from a package to an actor of another package.
    pub fn w5(&self, n: u64) -> Result<Duration, Error> {
        self.one_way(&self.a, &self.b, n, false)
    }

    /// W2: `n` ping-pong round trips between two actors.
    pub fn w2(&self, n: u64) -> Result<Duration, Error> {
        let pinger = self.actor(&self.a, "bench.pinger")?;
        let ponger = self.actor(&self.a, "bench.ponger")?;
        let start = Instant::now();
        self.sys.ask(&pinger, value!({"pingpong": n, "peer": ponger.to_string()}), LONG)?;
        Ok(start.elapsed())
    }

    /// W3: `n` asks from outside the system; the latency of each.
    pub fn w3(&self, n: u64) -> Result<Vec<Duration>, Error> {
        let echo = self.actor(&self.a, "bench.echo")?;
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n {
            let start = Instant::now();
            self.sys.ask(&echo, i, LONG)?;
            out.push(start.elapsed());
        }
        Ok(out)
    }

    /// W4: create `n` idle actors; the time and the RSS per actor.
    pub fn w4(&self, n: u64) -> Result<(Duration, f64), Error> {
        let before = rss_bytes();
        let start = Instant::now();
        let mut last = Address::NOBODY;
        let mut all = Vec::with_capacity(n as usize);
        for _ in 0..n {
            last = self.actor(&self.b, "bench.idle")?;
            all.push(last);
        }
        // Constructed in order on the version's thread: once the last has
        // handled a message, every one exists.
        self.sys.tell_delivered(&last, Message::Value(actor_abi::Value::Null), LONG)?;
        let took = start.elapsed();
        let per_actor = rss_bytes().saturating_sub(before) as f64 / n as f64;
        for a in all {
            self.sys.tell_message(&a, Message::ActorExitRequest);
        }
        Ok((took, per_actor))
    }
}
