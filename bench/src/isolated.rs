//! Our runtime with the benchmark package in a worker process (issue 13):
//! tells and asks across the process boundary, and how long a worker takes
//! from its start to its first answered ask. The worker program is the
//! release `thespian-director`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use actor_abi::{Message, value};
use runtime::tls::SourceAuthority;
use runtime::worker::{IsolatedVersion, WorkerProgram};
use runtime::{ActorSystem, PackageInfo, SystemConfig};

use crate::director_cli;
use crate::signer::{Error, Signer};

const LONG: Duration = Duration::from_secs(600);

/// A system with benchpkg 1 in-process and benchpkg 2 in a worker.
pub struct Isolated {
    sys: ActorSystem,
    local: PackageInfo,
    worker: IsolatedVersion,
    file: PathBuf,
    program: WorkerProgram,
    signer: Signer,
}

impl Isolated {
    /// Starts the system, loads one version in-process and one in a worker.
    pub fn new() -> Result<Isolated, Error> {
        let lib = &test_support::plugins().benchpkg;
        let signer = Signer::new()?;
        let sys = ActorSystem::start(SystemConfig::default())?;
        let local = signer.load(&sys, &signer.package(lib, std::fs::read(lib)?, "bench", "1")?)?;
        let file = signer.package(lib, std::fs::read(lib)?, "bench", "2")?;
        let program = WorkerProgram { program: director_cli::binary()?, ..WorkerProgram::default() };
        let worker = start(&signer, &sys, &file, &program)?;
        Ok(Isolated { sys, local, worker, file, program, signer })
    }

    /// W1 across the boundary: an in-process sender tells `n` plain values
    /// to a sink in the worker.
    pub fn w1(&self, n: u64) -> Result<Duration, Error> {
        let sender = self.sys.create_actor(&self.local.hash, "bench.sender")?;
        let sink = self.worker.create_actor("bench.sink")?;
        let done = self.sys.ask_async(&sink, value!({"expect": n}), LONG);
        let start = Instant::now();
        self.sys.tell(&sender, value!({"run": n, "to": sink.to_string(), "typed": false}));
        test_support::block_on(done)?;
        let took = start.elapsed();
        self.sys.tell_message(&sender, Message::ActorExitRequest);
        self.sys.tell_message(&sink, Message::ActorExitRequest);
        Ok(took)
    }

    /// W2 across the boundary: `n` plain ping-pong round trips between a
    /// pinger in-process and a ponger in the worker.
    pub fn w2(&self, n: u64) -> Result<Duration, Error> {
        let pinger = self.sys.create_actor(&self.local.hash, "bench.pinger")?;
        let ponger = self.worker.create_actor("bench.ponger")?;
        let start = Instant::now();
        let ping = value!({"pingpong": n, "peer": ponger.to_string(), "typed": false});
        self.sys.ask(&pinger, ping, LONG)?;
        let took = start.elapsed();
        self.sys.tell_message(&pinger, Message::ActorExitRequest);
        self.sys.tell_message(&ponger, Message::ActorExitRequest);
        Ok(took)
    }

    /// Spawning across the boundary: `n` actors created in the worker, one
    /// request and answer each; the mean time per actor.
    pub fn spawn(&self, n: u64) -> Result<Duration, Error> {
        let start = Instant::now();
        let made: Vec<_> = (0..n).map(|_| self.worker.create_actor("bench.idle")).collect::<Result<_, _>>()?;
        let took = start.elapsed() / n.max(1) as u32;
        made.iter().for_each(|a| self.sys.tell_message(a, Message::ActorExitRequest));
        Ok(took)
    }

    /// W3 across the boundary: `n` asks from the host to an echo in the worker.
    pub fn w3(&self, n: u64) -> Result<Vec<Duration>, Error> {
        let echo = self.worker.create_actor("bench.echo")?;
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n {
            let start = Instant::now();
            self.sys.ask(&echo, i, LONG)?;
            out.push(start.elapsed());
        }
        self.sys.tell_message(&echo, Message::ActorExitRequest);
        Ok(out)
    }

    /// A new worker: from verifying the package to its first answered ask.
    pub fn start_to_first_ask(&self) -> Result<Duration, Error> {
        let start = Instant::now();
        let worker = self::start(&self.signer, &self.sys, &self.file, &self.program)?;
        let echo = worker.create_actor("bench.echo")?;
        self.sys.ask(&echo, 1, LONG)?;
        let took = start.elapsed();
        worker.stop(Duration::from_secs(10));
        Ok(took)
    }
}

fn start(
    signer: &Signer,
    sys: &ActorSystem,
    file: &std::path::Path,
    program: &WorkerProgram,
) -> Result<IsolatedVersion, Error> {
    let (_, package) = SourceAuthority::new(signer.dir()).stage_file(file, sys.extract_root())?;
    Ok(IsolatedVersion::start(sys, package, program, LONG)?)
}
