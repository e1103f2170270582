//! The end-to-end demo: build the example packages, make a signing key,
//! sign `foo` 1.0 and 2.0 into a temporary director directory, verify and
//! load 1.0, ask it, load 2.0 beside it, ask both, unload both and print
//! each unload report. Exits non-zero if any step fails or any code stays
//! resident.
//!
//! Run: `cargo run --example demo`

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use actor_abi::value;
use runtime::tls::{PackageBuilder, PrivateKeyFile, SourceAuthority, inspect_library, keys};
use runtime::{ActorSystem, PackageInfo, SystemConfig};

type Error = Box<dyn std::error::Error>;

fn step(text: &str) {
    println!("==> {text}");
}

/// Signs the foo library as `foo-VERSION.tls` in `dir`, as `gensrc` does.
fn sign(dir: &Path, lib: &Path, version: &str, key: &PrivateKeyFile) -> Result<PathBuf, Error> {
    let mut builder = PackageBuilder::new("foo", Some(version), 0, &inspect_library(lib)?)?;
    builder.library(runtime::TARGET_TRIPLE, "libfoo.so", std::fs::read(lib)?)?;
    let (bytes, _) = builder.build(key, false)?;
    let file = dir.join(format!("foo-{version}.tls"));
    std::fs::write(&file, bytes)?;
    println!("    wrote {}", file.display());
    Ok(file)
}

fn load(sys: &ActorSystem, authority: &SourceAuthority, file: &Path) -> Result<PackageInfo, Error> {
    let (verified, package) = authority.stage_file(file, sys.extract_root())?;
    println!("    verified with {}", verified.key_file.display());
    let info = sys.load(package)?;
    println!("    loaded foo {} as {}", info.version, &info.hash[..16]);
    println!("    classes: {}", info.classes.join(", "));
    println!("    library: {}", info.library.display());
    Ok(info)
}

fn run() -> Result<bool, Error> {
    step("building the example packages (cargo build --release, cached after the first run)");
    let plugins = test_support::build_plugins()?;
    println!("    {}", plugins.foo.display());

    step("making a 3072-bit signing key and a temporary director directory");
    let dir = tempfile::tempdir()?;
    let key = keys::generate(3072)?;
    let (private_pem, public_pem) = keys::pem_pair(&key)?;
    std::fs::write(dir.path().join("demo.pem"), private_pem)?;
    std::fs::write(dir.path().join("demo_tls.key"), public_pem)?;
    let key = keys::read_private_key(&dir.path().join("demo.pem"))?;
    println!("    {}", dir.path().display());

    step("signing foo 1.0 and foo 2.0 (what gensrc does)");
    let f1 = sign(dir.path(), &plugins.foo, "1.0", &key)?;
    let f2 = sign(dir.path(), &plugins.foo, "2.0", &key)?;

    step("starting an in-process actor system");
    let sys = ActorSystem::start(SystemConfig::default())?;
    let authority = SourceAuthority::new(dir.path());
    let t = Duration::from_secs(5);

    step("verifying and loading foo 1.0, then asking foo.fooactor");
    let v1 = load(&sys, &authority, &f1)?;
    let a1 = sys.create_actor(&v1.hash, "foo.fooactor")?;
    println!("    {a1} answered {}", sys.ask(&a1, value!({"ping": 1}), t)?);

    step("verifying and loading foo 2.0 beside it");
    let v2 = load(&sys, &authority, &f2)?;
    let a2 = sys.create_actor(&v2.hash, "foo.fooactor")?;
    sys.tell(&a1, "kept by 1.0");
    sys.tell(&a2, "kept by 2.0");
    println!("    {a1} answered {}", sys.ask(&a1, value!({"ping": 2}), t)?);
    println!("    {a2} answered {}", sys.ask(&a2, value!({"ping": 3}), t)?);
    println!("    1.0 history: {}", sys.ask(&a1, "history", t)?);
    println!("    2.0 history: {}", sys.ask(&a2, "history", t)?);

    let mut all_freed = true;
    for (name, info) in [("1.0", &v1), ("2.0", &v2)] {
        step(&format!("unloading foo {name}"));
        let report = sys.unload(&info.hash)?;
        println!("    {report}");
        all_freed &= report.code.is_freed();
    }

    step("shutting down");
    let report = sys.shutdown();
    println!("    {} package(s) left to unload, {} host actor(s) left", report.unloads.len(), report.host_actors_left);
    Ok(all_freed)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => {
            println!("demo finished: both versions ran side by side and their code was freed");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            eprintln!("demo finished, but some code stayed resident (see the reports above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("demo failed: {e}");
            ExitCode::FAILURE
        }
    }
}
