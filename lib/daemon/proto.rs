//! The commands the control socket takes: one JSON object per line, `"cmd"` naming the command
//! (the other fields as below; unknown fields are ignored). Torrents are named by info hash, by
//! a prefix of one (4 hex digits at least) or by name; paths must be absolute.
//!
//! ```text
//! {"cmd":"add","torrent":"/srv/x.torrent","dir":"/srv/dl","seed_only":false,"peers":["127.0.0.1:6881"],"paused":false}
//! {"cmd":"remove","torrent":"c0fd"}       {"cmd":"pause","torrent":"sample"}   {"cmd":"resume","torrent":"c0fd"}
//! {"cmd":"limit","down":2097152,"up":null,"torrent":null}   (null: unchanged, 0: unlimited)
//! {"cmd":"list","torrent":null,"detail":false}              {"cmd":"watch","interval":1.0}
//! ```

/// One command on the control socket.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Command {
    /// Add a torrent file or magnet link: fetch it into `dir` and seed it (`seed_only`: serve
    /// what is there; a magnet's metadata is fetched first either way).
    Add {
        /// Absolute path of the `.torrent`, or a magnet link.
        torrent: String,
        /// Absolute path of the directory holding `dir/<name>`.
        dir: Option<String>,
        /// Serve what is on disk, never download.
        #[serde(default)]
        seed_only: bool,
        /// Peers to dial (`ip:port`), besides those the trackers name.
        #[serde(default)]
        peers: Vec<String>,
        /// Add it paused.
        #[serde(default)]
        paused: bool,
    },
    /// Stop a torrent and forget it (its files stay).
    Remove {
        /// The torrent.
        torrent: String,
    },
    /// Stop a torrent's transfers (it stays listed).
    Pause {
        /// The torrent.
        torrent: String,
    },
    /// Start a paused torrent again (it verifies what is on disk first).
    Resume {
        /// The torrent.
        torrent: String,
    },
    /// Set the global limits, or one torrent's, in bytes per second.
    Limit {
        /// The torrent (`null`: the global limits).
        #[serde(default)]
        torrent: Option<String>,
        /// Download limit (`null`: unchanged, 0: unlimited).
        #[serde(default)]
        down: Option<u64>,
        /// Upload limit (`null`: unchanged, 0: unlimited).
        #[serde(default)]
        up: Option<u64>,
    },
    /// One `status` record per torrent (or for one), then `ok`.
    List {
        /// Only this torrent.
        #[serde(default)]
        torrent: Option<String>,
        /// Fill `files` and `peer_list`.
        #[serde(default)]
        detail: bool,
    },
    /// `status` records of every torrent every `interval` seconds, until the connection ends.
    Watch {
        /// Seconds between two rounds (default 1).
        #[serde(default)]
        interval: Option<f64>,
    },
}

/// The command names, for error messages.
pub const NAMES: &str = "add, remove, pause, resume, limit, list, watch";

impl Command {
    /// The command's name (its `"cmd"`).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Add { .. } => "add",
            Command::Remove { .. } => "remove",
            Command::Pause { .. } => "pause",
            Command::Resume { .. } => "resume",
            Command::Limit { .. } => "limit",
            Command::List { .. } => "list",
            Command::Watch { .. } => "watch",
        }
    }

    /// Parse one line; an error gives the command's name (when the line names one) and what is
    /// wrong.
    pub fn parse(line: &str) -> Result<Command, (Option<String>, String)> {
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| (None, format!("line is not a JSON object: {e}")))?;
        let Some(name) = v.get("cmd").and_then(|c| c.as_str()).map(str::to_string) else {
            return Err((None, format!("line has no \"cmd\" field ({NAMES})")));
        };
        if !NAMES.split(", ").any(|n| n == name) {
            let e = format!("unknown command {name:?} ({NAMES})");
            return Err((Some(name), e));
        }
        serde_json::from_value(v).map_err(|e| (Some(name.clone()), format!("{name}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_and_errors_name_the_problem() {
        let c = Command::parse(r#"{"cmd":"pause","torrent":"ab12","x":1}"#).unwrap();
        assert_eq!(
            c,
            Command::Pause {
                torrent: "ab12".into()
            }
        );
        let c = Command::parse(r#"{"cmd":"limit","down":5}"#).unwrap();
        let want = Command::Limit {
            torrent: None,
            down: Some(5),
            up: None,
        };
        assert_eq!(c, want);
        let line = serde_json::to_string(&want).unwrap();
        assert_eq!(Command::parse(&line).unwrap(), want);
        assert!(Command::parse("nope")
            .unwrap_err()
            .1
            .contains("not a JSON object"));
        assert_eq!(Command::parse(r#"{"x":1}"#).unwrap_err().0, None);
        let (name, e) = Command::parse(r#"{"cmd":"fly"}"#).unwrap_err();
        assert_eq!(
            (name.as_deref(), e.contains("unknown command \"fly\"")),
            (Some("fly"), true)
        );
        let (_, e) = Command::parse(r#"{"cmd":"pause"}"#).unwrap_err();
        assert!(e.contains("missing field `torrent`"), "{e}");
    }
}
