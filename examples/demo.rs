//! The end-to-end demo: build the example packages, load `foo` 1.0, ask it,
//! load a second build (2.0) beside it, ask both, unload both and print
//! each unload report. Exits non-zero if any step fails or any code stays
//! resident.
//!
//! Run: `cargo run --example demo`

use std::process::ExitCode;
use std::time::Duration;

use actor_abi::value;
use runtime::{ActorSystem, PackageInfo, SystemConfig, VerifiedPackage};

type Error = Box<dyn std::error::Error>;

fn step(text: &str) {
    println!("==> {text}");
}

fn load(sys: &ActorSystem, lib: &std::path::Path, version: &str) -> Result<PackageInfo, Error> {
    let bytes = std::fs::read(lib)?;
    // Until signed packages exist, the demo loads the library bytes directly.
    let info = sys.load(VerifiedPackage::unverified("foo", version, "libfoo.so", bytes))?;
    println!("    loaded foo {} as {}", info.version, &info.hash[..16]);
    println!("    classes: {}", info.classes.join(", "));
    println!("    library: {}", info.library.display());
    Ok(info)
}

fn run() -> Result<bool, Error> {
    step("building the example packages (cargo build --release, cached after the first run)");
    let plugins = test_support::build_plugins()?;
    println!("    {}", plugins.foo.display());

    step("starting an in-process actor system");
    let sys = ActorSystem::start(SystemConfig::default())?;
    let t = Duration::from_secs(5);

    step("loading foo 1.0 and asking foo.fooactor");
    let v1 = load(&sys, &plugins.foo, "1.0")?;
    let a1 = sys.create_actor(&v1.hash, "foo.fooactor")?;
    println!("    {a1} answered {}", sys.ask(&a1, value!({"ping": 1}), t)?);

    step("loading a second build, foo 2.0, beside it");
    let v2 = load(&sys, &plugins.foo, "2.0")?;
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
