//! Integration tests: transmission-daemon downloads from bt-seed through opentracker, with its
//! default encryption ("preferred": it opens with an MSE handshake offering RC4 and plaintext)
//! and with "required" (RC4 only). Transmission never dials a 127.x peer, so each run happens
//! inside a network namespace of its own ([`in_netns`]) where `lo` carries 10.x addresses.

use crate::common::*;
use crate::harness::*;

/// bt-seed's and Transmission's addresses inside each namespace (a /32 each on `lo`).
const SEED_IP: &str = "10.11.12.13";
const TRANSMISSION_IP: &str = "10.11.12.14";

/// One run: opentracker, bt-seed (announcing, default encryption `prefer`) and a
/// transmission-daemon with `encryption`, all inside a fresh namespace.
fn transmission_downloads_from_bt_seed(encryption: u8) {
    in_netns(&[SEED_IP, TRANSMISSION_IP], || {
        // No empty file: Transmission 3.00 does not create zero-length files.
        let s = Sample::data(&[("a.bin", 1_000_001), ("docs/b.bin", 300_000)]);
        let tracker = Opentracker::start(&[s.info_hash_hex()]);
        s.announce_to(&tracker.http());
        let seed = Seeder::of(&s).bind(SEED_IP).announce().start();
        let save = s.path("tr-dl");
        let tr = TransmissionDaemon::start(TRANSMISSION_IP, &s.path("tr"), &save, encryption);
        tr.add(&s.torrent);
        let same = || {
            s.files.iter().all(|(p, n)| {
                std::fs::read(save.join(p)).is_ok_and(|d| {
                    d.len() == *n && d == std::fs::read(s.seed_dir().join(p)).unwrap()
                })
            })
        };
        // Transmission announces (from its bind address), learns bt-seed and dials it; it
        // waits a few seconds before it asks for pieces.
        assert!(
            wait_for(90, same),
            "Transmission (encryption {encryption}) did not complete: {:?}; in {save:?}: {:?}",
            seed.records::<PeerEvent>(),
            walk(&save)
        );
        s.assert_same(&save);
        // Transmission dialed bt-seed (bt-seed announced before Transmission existed and
        // re-announces only after opentracker's interval of minutes, so it cannot have dialed
        // first), and the handshake completed: its peer id starts with "-TR".
        let events = seed.records::<PeerEvent>();
        let from_tr = peer_events(&events, "connected", Some(TRANSMISSION_IP), None);
        assert!(
            from_tr.iter().any(|p| p.incoming == Some(true)
                && p.peer_id
                    .as_deref()
                    .is_some_and(|id| id.starts_with("2d5452"))),
            "no incoming connection from Transmission: {events:?}"
        );
    });
}

#[test]
fn transmission_preferring_encryption_downloads_from_bt_seed() {
    transmission_downloads_from_bt_seed(1);
}

#[test]
fn transmission_requiring_encryption_downloads_from_bt_seed() {
    transmission_downloads_from_bt_seed(2);
}

/// Every file under `dir` (relative paths, sizes): what Transmission wrote.
fn walk(dir: &std::path::Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, e.metadata().map(|m| m.len()).unwrap_or(0)));
            }
        }
    }
    out
}
