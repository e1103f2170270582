//! Test package built against an incompatible `actor-abi` (its
//! `simulate-abi-mismatch` feature): the host must refuse to load it.

use actor_abi::prelude::*;

/// Never runs: the host refuses the library before calling it.
#[derive(Default)]
struct Never;

impl Actor for Never {
    fn receive(&mut self, _cx: &mut Context<'_>, _msg: &Message, _from: Address) {}
}

export_actors! {
    "mismatch.Never" => Never,
}
