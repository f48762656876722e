//! The DHT flags (`--dht-bootstrap`, `--dht-state`, `--no-dht`, bt-announce's `--dht`) and the
//! process-side decisions behind them: the default routers when no bootstrap node is named,
//! the state file in the XDG cache directory, never a DHT for a private torrent.

use super::{Out, Quiet};
use crate::dht::{self, Node, DEFAULT_ROUTERS};
use crate::record::PeerRecord;
use crate::tracker::Target;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where a DHT node starts from: bootstrap nodes and the saved routing table.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DhtNodeArgs {
    /// A DHT bootstrap node, HOST:PORT (repeatable); replaces the default routers
    /// (router.bittorrent.com, dht.transmissionbt.com, router.utorrent.com, port 6881).
    #[arg(long = "dht-bootstrap", value_name = "HOST:PORT", value_parser = parse_host_port)]
    pub dht_bootstrap: Vec<String>,
    /// The DHT routing table is loaded from FILE and saved there on exit, so the next run
    /// starts warm (default: $XDG_CACHE_HOME/bt/dht.json, else ~/.cache/bt/dht.json;
    /// dht6.json for IPv6).
    #[arg(long, value_name = "FILE")]
    pub dht_state: Option<PathBuf>,
}

/// bt-fetch's and bt-seed's DHT flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DhtArgs {
    /// Bootstrap nodes and state file.
    #[command(flatten)]
    pub node: DhtNodeArgs,
    /// Do not use the DHT (private torrents never do). The environment variable BT_NO_DHT=1
    /// does the same (the test suite and the scripts set it for every run that is not a DHT
    /// test, so nothing reaches the default routers).
    #[arg(long, env = "BT_NO_DHT", hide_env_values = true, value_parser = clap::builder::FalseyValueParser::new())]
    pub no_dht: bool,
}

/// bt-announce's DHT flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DhtAnnounceArgs {
    /// Ask the DHT for peers instead of the trackers (`peer` records with `tracker` "dht");
    /// with --port, announce us there too.
    #[arg(long, conflicts_with_all = ["scrape", "trackers", "all"])]
    pub dht: bool,
    /// Bootstrap nodes and state file.
    #[command(flatten)]
    pub node: DhtNodeArgs,
}

/// `HOST:PORT` with a non-empty host and a port from 1 to 65535.
pub fn parse_host_port(s: &str) -> Result<String, String> {
    let bad = || format!("{s:?} is not HOST:PORT");
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match port.parse::<u16>() {
        Ok(p) if p > 0 && !host.is_empty() && !host.contains(char::is_whitespace) => {
            Ok(s.to_string())
        }
        _ => Err(bad()),
    }
}

/// The default state file for a node of `bind`'s family, in the XDG cache directory.
fn default_state(v6: bool) -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(
        base.join("bt")
            .join(if v6 { "dht6.json" } else { "dht.json" }),
    )
}

impl DhtNodeArgs {
    /// The node configuration: bound to `bind` at `port` (a busy port: any free one), the
    /// named bootstrap nodes or else the default routers, the state file.
    pub fn config(&self, bind: IpAddr, port: u16) -> dht::Config {
        let bootstrap = if self.dht_bootstrap.is_empty() {
            DEFAULT_ROUTERS.iter().map(|s| s.to_string()).collect()
        } else {
            self.dht_bootstrap.clone()
        };
        dht::Config {
            bind: SocketAddr::new(bind, port),
            bootstrap,
            state: self
                .dht_state
                .clone()
                .or_else(|| default_state(bind.is_ipv6())),
        }
    }

    /// Start a node; a failure is an error naming the address.
    pub fn start(&self, bind: IpAddr, port: u16) -> anyhow::Result<Arc<Node>> {
        let c = self.config(bind, port);
        let addr = c.bind;
        let node = Node::start(c).map_err(|e| anyhow::anyhow!("DHT node on {addr}: {e}"))?;
        Ok(Arc::new(node))
    }
}

impl DhtArgs {
    /// The node a fetch or seed uses: none with --no-dht or for a private torrent; a node that
    /// cannot start is a note on stderr (the tool goes on without it).
    pub fn start(&self, tool: &str, bind: IpAddr, port: u16, private: bool) -> Option<Arc<Node>> {
        if self.no_dht || private {
            return None;
        }
        self.node
            .start(bind, port)
            .map_err(|e| eprintln!("{tool}: {e}; going on without the DHT"))
            .ok()
    }
}

impl DhtArgs {
    /// bt-seed's node: none when every torrent is private (or with --no-dht).
    pub fn for_seed(
        &self,
        bind: IpAddr,
        port: u16,
        torrents: &[crate::metainfo::Torrent],
    ) -> Option<Arc<Node>> {
        self.start("bt-seed", bind, port, torrents.iter().all(|t| t.private))
    }
}

/// bt-announce --dht: look `target` up in the DHT, write a `peer` record per peer (`tracker`
/// "dht"), announce us at `port` when given. Exit 0 when some node answered, else 1.
pub fn announce(
    tool: &str,
    args: &DhtAnnounceArgs,
    (target, private): (&Target, bool),
    (bind, port): (Option<IpAddr>, Option<u16>),
    timeout: f64,
    (out, quiet): (&mut Out, &Quiet),
) -> anyhow::Result<u8> {
    if private {
        anyhow::bail!("a private torrent never uses the DHT");
    }
    let bind = bind.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let node = args.node.start(bind, 0)?;
    let found = node.get_peers(target.info_hash.0, port, Duration::from_secs_f64(timeout));
    for addr in target
        .peers
        .iter()
        .map(|a| (a, None))
        .chain(found.peers.iter().map(|a| (a, Some("dht"))))
    {
        out.records([PeerRecord::new(*addr.0, addr.1)], || {
            vec![addr.0.to_string()]
        })?;
    }
    let _ = node.save();
    let msg = match (found.answers, port) {
        (0, _) => format!(
            "no DHT node answered (bootstrap: {})",
            args.node.config(bind, 0).bootstrap.join(", ")
        ),
        (n, Some(p)) => format!(
            "{n} DHT nodes answered, {} took our announce of port {p}",
            found.announced
        ),
        (n, None) => format!("{n} DHT nodes answered, {} peers", found.peers.len()),
    };
    if found.answers == 0 {
        eprintln!("{tool}: {msg}");
    } else {
        quiet.note(tool, &msg);
    }
    Ok(super::exit_code(found.answers > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_bootstrap_nodes_replace_the_defaults() {
        let mut a = DhtNodeArgs::default();
        let any = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
        assert_eq!(a.config(any, 0).bootstrap, DEFAULT_ROUTERS);
        a.dht_bootstrap = vec!["127.0.0.9:6881".into()];
        assert_eq!(a.config(any, 0).bootstrap, ["127.0.0.9:6881"]);
        assert!(parse_host_port("router.example:6881").is_ok());
        assert!(parse_host_port("[::1]:6881").is_ok());
        for bad in ["nohost", ":6881", "h:0", "h:70000", "h:x"] {
            assert!(parse_host_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn private_torrents_get_no_node() {
        let a = DhtArgs::default();
        let lo = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
        assert!(a.start("t", lo, 0, true).is_none());
        let off = DhtArgs {
            no_dht: true,
            ..DhtArgs::default()
        };
        assert!(off.start("t", lo, 0, false).is_none());
    }
}
