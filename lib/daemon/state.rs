//! The state file of `--state FILE`: the torrents added by commands (file or magnet link,
//! directory, mode, paused, peers, limits) and the global limits, as one JSON object. It is rewritten whole
//! through a temporary file in the same directory renamed over it, so a reader (or a restart
//! after `kill -9`) sees the old version or the new one, never a mix.

use super::{Limits, Mode};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// What the state file holds.
#[derive(Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Saved {
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub torrents: Vec<SavedTorrent>,
}

/// One torrent of the state file.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct SavedTorrent {
    /// The `.torrent` (`null` for a magnet whose metadata is not known yet).
    #[serde(default)]
    pub torrent: Option<PathBuf>,
    /// The magnet link it was added by.
    #[serde(default)]
    pub magnet: Option<String>,
    pub dir: PathBuf,
    pub mode: Mode,
    #[serde(default)]
    pub paused: bool,
    #[serde(default)]
    pub peers: Vec<SocketAddr>,
    #[serde(default)]
    pub limits: Limits,
}

/// Longest state file read (a few hundred bytes per torrent).
const MAX_SIZE: u64 = 64 << 20;

/// Read the state file; a missing file is an empty state.
pub(crate) fn load(path: &Path) -> Result<Saved, String> {
    use std::io::Read;
    let mut text = String::new();
    match std::fs::File::open(path) {
        Ok(f) => f
            .take(MAX_SIZE)
            .read_to_string(&mut text)
            .map_err(|e| e.to_string())?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Saved::default()),
        Err(e) => return Err(e.to_string()),
    };
    serde_json::from_str(&text).map_err(|e| format!("not a state file: {e}"))
}

/// Replace the state file atomically (write a temporary file, sync it, rename it over).
pub(crate) fn save(path: &Path, saved: &Saved) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp)?;
    let mut text = serde_json::to_vec_pretty(saved).map_err(std::io::Error::from)?;
    text.push(b'\n');
    f.write_all(&text)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_a_missing_file_is_empty() {
        let dir = std::env::temp_dir().join(format!("bt-state-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("state.json");
        assert_eq!(load(&p).unwrap(), Saved::default());
        let saved = Saved {
            limits: Limits {
                down: Some(5),
                up: None,
            },
            torrents: vec![SavedTorrent {
                torrent: Some("/a.torrent".into()),
                magnet: None,
                dir: "/d".into(),
                mode: Mode::Fetch,
                paused: true,
                peers: vec!["127.0.0.1:1".parse().unwrap()],
                limits: Limits::default(),
            }],
        };
        save(&p, &saved).unwrap();
        assert_eq!(load(&p).unwrap(), saved);
        std::fs::write(&p, "{").unwrap();
        assert!(load(&p).unwrap_err().starts_with("not a state file"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
