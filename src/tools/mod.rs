//! One-off tools, apart from the product: the demo and its send plan, the feed generator, the
//! bulk loader, the benchmarks, the attack suite, the sandbox that tests and benchmarks run a hub
//! in, and the fuzz entry points. The hub itself never calls into this folder.
pub mod attack;
pub mod bench;
pub mod demo;
pub mod fuzzing;
pub mod generate;
pub mod load;
pub mod progress;
pub mod sandbox;
