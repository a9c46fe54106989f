//! Embeds every `schemas/*.avsc` into the binary, so the schema files stay the one source of truth,
//! and every earlier writer schema (`schemas/history/<fingerprint>.json`), so what was written with
//! one (stored events, messages still queued) is read after an upgrade.
use std::{env, fs, path::PathBuf};

fn main() {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("schemas");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("schemas/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "avsc"))
        .collect();
    files.sort();
    let mut out = String::from(
        "/// (file stem, schema JSON) for every schemas/*.avsc, sorted by name.\npub const SCHEMA_FILES: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let stem = f.file_stem().and_then(|s| s.to_str()).expect("utf-8 schema file name");
        out.push_str(&format!("    ({stem:?}, include_str!({:?})),\n", f.display().to_string()));
    }
    out.push_str("];\n");
    let history = dir.join("history");
    println!("cargo:rerun-if-changed={}", history.display());
    let mut earlier: Vec<PathBuf> = fs::read_dir(&history)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "json")).collect()
        })
        .unwrap_or_default();
    earlier.sort();
    out.push_str("/// (fingerprint in hex, envelope JSON) of every earlier writer schema, schemas/history/*.json.\n");
    out.push_str("pub const HISTORY_FILES: &[(&str, &str)] = &[\n");
    for f in &earlier {
        println!("cargo:rerun-if-changed={}", f.display());
        let stem = f.file_stem().and_then(|s| s.to_str()).expect("utf-8 schema file name");
        out.push_str(&format!("    ({stem:?}, include_str!({:?})),\n", f.display().to_string()));
    }
    out.push_str("];\n");
    let released = dir.join("released.json");
    println!("cargo:rerun-if-changed={}", released.display());
    fs::write(PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("schema_files.rs"), out)
        .expect("write schema list");
}
