//! The fuzz targets' seeds and saved findings, replayed without the fuzzer: every file under
//! `fuzz/seeds/<target>/` and `fuzz/regressions/<target>/` (and, for the bencode and torrent
//! targets, the torrent corpus) goes through the same function the libFuzzer binary calls
//! (`fuzz/src/lib.rs`, included here). A target panics on any broken property, so "no panic"
//! is the assertion; each input must also finish within a time bound.

#[path = "../../fuzz/src/lib.rs"]
mod targets;

use crate::common::corpus;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Per input, in the unoptimised test build on a loaded machine; the fuzzer's own limit is
/// 60 s in an optimised build.
const BOUND: Duration = Duration::from_secs(60);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir`, in a stable order (none when it does not exist).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn target(name: &str) -> targets::Target {
    targets::TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no fuzz target {name}"))
        .1
}

/// Feed every seed and regression of `name` (and `extra` inputs) to its target.
fn replay(name: &str, extra: &[PathBuf]) {
    let f = target(name);
    let seeds = files(&root().join("fuzz/seeds").join(name));
    assert!(!seeds.is_empty(), "fuzz/seeds/{name}/ has no seeds");
    let regressions = files(&root().join("fuzz/regressions").join(name));
    let mut failed = Vec::new();
    for path in seeds.iter().chain(&regressions).chain(extra) {
        let data = std::fs::read(path).unwrap();
        let start = Instant::now();
        if std::panic::catch_unwind(|| f(&data)).is_err() {
            failed.push(format!("{} panicked", path.display()));
        }
        let took = start.elapsed();
        if took > BOUND {
            failed.push(format!("{} took {took:?}", path.display()));
        }
    }
    assert!(failed.is_empty(), "{name}: {failed:#?}");
}

fn torrents() -> Vec<PathBuf> {
    let all: Vec<PathBuf> = files(&corpus())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "torrent"))
        .collect();
    assert!(
        all.len() >= 199,
        "the torrent corpus has {} files",
        all.len()
    );
    all
}

#[test]
fn every_target_is_built_seeded_and_replayed() {
    let names: Vec<&str> = targets::TARGETS.iter().map(|(n, _)| *n).collect();
    let mut bins: Vec<String> = files(&root().join("fuzz/fuzz_targets"))
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    bins.sort();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(bins, sorted, "fuzz/fuzz_targets/ and TARGETS differ");
    let script = std::fs::read_to_string(root().join("scripts/fuzz")).unwrap();
    let listed = format!("TARGETS=({})", names.join(" "));
    assert!(
        script.contains(&listed),
        "scripts/fuzz does not list {listed}"
    );
}

#[test]
fn bencode() {
    replay("bencode", &torrents());
}

#[test]
fn torrent() {
    replay("torrent", &torrents());
}

/// One test per remaining target, each replaying its seeds and saved findings.
macro_rules! replay_tests {
    ($($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                replay(stringify!($name), &[]);
            }
        )*
    };
}

replay_tests!(
    magnet,
    peer,
    handshake,
    mse,
    tracker_http,
    tracker_udp,
    bound_http,
    peer_line,
    picker,
    krpc
);

#[test]
fn mse_seeds_reach_the_end_of_the_handshake() {
    // The target builds a valid key exchange itself, so its seeds get past Diffie-Hellman and
    // the sync search to the encrypted fields; if they stop doing so, the target has gone blind.
    let seed = |name: &str| std::fs::read(root().join("fuzz/seeds/mse").join(name)).unwrap();
    let plain = bt::peer::mse::CRYPTO_PLAIN;
    let rc4 = bt::peer::mse::CRYPTO_RC4;
    assert_eq!(targets::mse_handshake(&seed("plain")), Some(plain));
    assert_eq!(targets::mse_handshake(&seed("rc4")), Some(rc4));
    assert_eq!(targets::mse_handshake(&seed("unknown-torrent")), None);
}
