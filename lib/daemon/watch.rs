//! `--watch-dir DIR`: look at the directory every interval; a `.torrent` file that appears is
//! added (fetched into the daemon's directory, then seeded; it dials the daemon's `--peer`s), and removed when its file goes.
//! Bounded: at most [`MAX_FILES`] names are looked at per round; a file that does not parse is
//! tried again each round (it may still be being written) and reported once.

use super::{Daemon, Mode, Origin, Refusal};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Most directory entries looked at per round.
pub const MAX_FILES: usize = 10_000;

pub(crate) fn spawn(
    d: Arc<Daemon>,
    dir: PathBuf,
    data: PathBuf,
    peers: Vec<SocketAddr>,
    every: Duration,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reported: HashSet<PathBuf> = HashSet::new();
        while !d.stopping() {
            round(&d, &dir, &data, &peers, &mut reported);
            let until = Instant::now() + every.max(Duration::from_millis(100));
            while Instant::now() < until && !d.stopping() {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    })
}

fn round(
    d: &Daemon,
    dir: &PathBuf,
    data: &Path,
    peers: &[SocketAddr],
    reported: &mut HashSet<PathBuf>,
) {
    let present: HashSet<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .take(MAX_FILES)
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "torrent") && p.is_file())
            .collect(),
        Err(e) => {
            if reported.insert(dir.clone()) {
                (d.note)(&format!("watch dir {}: {e}", dir.display()));
            }
            return;
        }
    };
    reported.remove(dir);
    let watched = d.watched();
    for (path, hash) in &watched {
        if !present.contains(path) {
            let _ = d.remove(hash);
        }
    }
    let known: HashSet<&PathBuf> = watched.iter().map(|(p, _)| p).collect();
    for path in present.iter().filter(|p| !known.contains(p)) {
        let t = match super::read_torrent(path) {
            Ok(t) => t,
            Err(e) => {
                if reported.insert(path.clone()) {
                    (d.note)(&format!("watch dir: {e}"));
                }
                continue;
            }
        };
        reported.remove(path);
        let added = d.insert(
            super::What::Torrent(Box::new(t)),
            path.clone(),
            data.to_path_buf(),
            Mode::Fetch,
            peers.to_vec(),
            Origin::Watch,
        );
        match added.and_then(|h| d.set_paused(&h, false)) {
            Ok(()) => {}
            Err(Refusal("exists", _)) => {}
            Err(Refusal(_, e)) => (d.note)(&format!("watch dir: {e}")),
        }
    }
}
