//! The probation-events connector (the real connector file) on any bytes: it must refuse or read them,
//! within its limits, without panicking, hanging or running out of memory.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tracker::tools::fuzzing::read_payload("probation-events", data));
