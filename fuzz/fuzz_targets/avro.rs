//! Decoding a delivery (Avro single-object encoding of the Update envelope) from any bytes, as a
//! subscriber's client or `tracker` itself would: it must refuse or decode, never panic or
//! allocate without bound.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tracker::tools::fuzzing::decode_delivery(data));
