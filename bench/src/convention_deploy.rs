//! C3 (issue 14): how long a large package takes, after the leader's
//! `load` returned, to run on two members. Three real daemons (the
//! release `thespian-director`), each with its own director directory,
//! join a convention on a real `nats-server`. In the same run, the
//! baseline: one get of the package from the store plus one local `load`
//! of it in a daemon outside the convention.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use director::DirectorControl;
use director::convention::{ConventionSettings, Link, store};
use test_support::nats::{NatsServer, PASSWORD, USER};

use crate::director_cli::{Daemon, director_dir};
use crate::loading::padded_library;
use crate::signer::{Error, Signer};

/// One run's figures, in ms.
pub struct DeployTiming {
    /// From the leader's load returning to the package loaded on both members.
    pub to_members: f64,
    /// One get of the package from the store.
    pub get: f64,
    /// One local load of the package (outside the convention).
    pub local_load: f64,
}

/// A leader, two members and a daemon outside the convention.
pub struct Convention {
    lead: Daemon,
    members: [Daemon; 2],
    alone: Daemon,
    link: Link,
    _nats: NatsServer,
}

impl Convention {
    /// Starts the server and the four daemons.
    pub fn start(bin: &Path, signer: &Signer) -> Result<Convention, Error> {
        let nats = NatsServer::start();
        let cfg = format!("{{'Url': {:?}, 'Name': 'c3', 'User': {USER:?}, 'Password': {PASSWORD:?}}}", nats.url());
        let member = |name: &str| -> Result<Daemon, Error> {
            let dir = director_dir(signer)?;
            std::fs::write(dir.path().join("convention.cfg"), &cfg)?;
            std::fs::write(dir.path().join("membername.cfg"), format!("{name:?}"))?;
            std::fs::write(dir.path().join("convleader.cfg"), "'lead'")?;
            Daemon::start(bin, dir)
        };
        let members = [member("m1")?, member("m2")?];
        let lead = member("lead")?;
        let alone = Daemon::start(bin, director_dir(signer)?)?;
        let settings = ConventionSettings::parse(&director::pyliteral::parse(&cfg)?, lead.dir())?;
        let link = Link::connect(&settings, "bench")?;
        Ok(Convention { lead, members, alone, link, _nats: nats })
    }

    /// One run with a fresh `mib` MiB package (version `version`).
    pub fn run(&self, signer: &Signer, mib: u64, version: &str) -> Result<DeployTiming, Error> {
        let lib = &test_support::plugins().benchpkg;
        let info = runtime::tls::inspect_library(lib)?;
        let file = signer.package_into(self.lead.dir(), &info, padded_library(mib)?, "big", version)?;
        let hash = runtime::sha256_hex(&std::fs::read(&file)?);
        self.lead.control().load(&file.to_string_lossy())?;
        let start = Instant::now();
        for m in &self.members {
            wait_for(&m.control(), &hash, true)?;
        }
        let to_members = ms(start.elapsed());
        // The baseline, after the members are done (the server is idle).
        let start = Instant::now();
        let bytes = store::fetch(&self.link, &hash)?;
        let get = ms(start.elapsed());
        drop(bytes);
        let copy: PathBuf = self.alone.dir().join(file.file_name().ok_or("no file name")?);
        std::fs::copy(&file, &copy)?;
        let start = Instant::now();
        self.alone.control().load(&copy.to_string_lossy())?;
        let local_load = ms(start.elapsed());
        // Unload everywhere, so runs do not pile up.
        self.alone.control().unload(&hash)?;
        self.lead.control().unload(&hash)?;
        for m in &self.members {
            wait_for(&m.control(), &hash, false)?;
        }
        Ok(DeployTiming { to_members, get, local_load })
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Polls `control` until `hash` is loaded (or, with `present` false, gone), within 2 minutes.
fn wait_for(control: &DirectorControl, hash: &str, present: bool) -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let list = control.list()?;
        let loaded = list.iter().flat_map(|g| &g.versions).any(|v| v.hash == hash && v.code == "mapped");
        if loaded == present {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(
                format!("C3: {hash} still {} after 2 minutes", if present { "missing" } else { "there" }).into()
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
