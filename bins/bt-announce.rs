//! bt-announce: ask a torrent's trackers for peers (or swarm counts) and write them as records.

use anyhow::{bail, Context};
use bt::cli::{self, escape_controls, Mode, Out, Output, Quiet};
use bt::metainfo::{self, InfoHash};
use bt::record::{AnnounceRecord, PeerRecord, ScrapeRecord};
use bt::tracker::{self, AnnounceRequest, Event, Options, Tiers};
use clap::Parser;
use std::net::IpAddr;
use std::time::Duration;

const TOOL: &str = "bt-announce";

/// Ask a torrent's trackers (HTTP, HTTPS, UDP) for peers.
///
/// Trackers are asked tier by tier (BEP 12) until one answers, or all at once with --all.
/// Writes one `peer` record per peer and one `announce` record per tracker asked; with --scrape,
/// `scrape` records instead. The `peer` records feed `bt-fetch`:
///
///   bt-announce x.torrent | bt-fetch x.torrent
#[derive(Parser, Debug)]
#[command(name = "bt-announce", version, after_help = cli::EXIT_CODES_HELP)]
struct Args {
    /// A .torrent file, a magnet link, or - for a torrent on stdin.
    #[arg(value_name = "TORRENT|MAGNET|-")]
    input: Option<String>,
    /// The port we report to the trackers.
    #[arg(long, default_value_t = 6881, value_name = "N")]
    port: u16,
    /// The announce event: started, completed, stopped or none.
    #[arg(long, default_value = "started", value_name = "EVENT", value_parser = ["started", "completed", "stopped", "none"])]
    event: String,
    /// How many peers to ask for (default: the tracker's choice).
    #[arg(long, value_name = "N")]
    numwant: Option<u32>,
    /// Our peer id as 40 hex digits (default: -BT0100- and 12 random bytes).
    #[arg(long, value_name = "HEX")]
    peer_id: Option<String>,
    /// Bytes we still miss (default: the whole torrent; 16384 for a magnet link).
    #[arg(long, value_name = "N")]
    left: Option<u64>,
    /// Bytes uploaded so far.
    #[arg(long, default_value_t = 0, value_name = "N")]
    uploaded: u64,
    /// Bytes downloaded so far.
    #[arg(long, default_value_t = 0, value_name = "N")]
    downloaded: u64,
    /// Ask this tracker instead of the torrent's (repeatable; asked in the order given). An
    /// http://, https:// or udp://host:port URL; anything else is a usage error.
    #[arg(long = "tracker", value_name = "URL", value_parser = tracker_url)]
    trackers: Vec<String>,
    /// Ask every tracker at once instead of stopping at the first that answers.
    #[arg(long)]
    all: bool,
    /// Ask for swarm counts (scrape) instead of announcing.
    #[arg(long)]
    scrape: bool,
    /// Seconds allowed for each tracker: more than 0 and at most 3600 (fractions allowed).
    #[arg(long, default_value_t = 15.0, value_name = "SECONDS", value_parser = timeout_secs,
          allow_negative_numbers = true)]
    timeout: f64,
    /// Local address to announce from (udp:// and http:// trackers; https:// uses the system's
    /// choice). Trackers record this address as ours.
    #[arg(long, value_name = "ADDR")]
    bind: Option<IpAddr>,
    #[command(flatten)]
    output: Output,
    #[command(flatten)]
    quiet: Quiet,
}

/// `--tracker`: a URL that [`tracker::check_url`] accepts.
fn tracker_url(s: &str) -> Result<String, String> {
    tracker::check_url(s).map_err(|e| e.detail())?;
    Ok(s.to_string())
}

/// Longest `--timeout`, in seconds.
const MAX_TIMEOUT: f64 = 3600.0;

/// `--timeout`: seconds, more than 0 and at most [`MAX_TIMEOUT`].
fn timeout_secs(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(t) if t > 0.0 && t <= MAX_TIMEOUT => Ok(t),
        _ => Err(format!(
            "must be seconds, more than 0 and at most {MAX_TIMEOUT}"
        )),
    }
}

/// What we need to know about the torrent.
struct Target {
    info_hash: InfoHash,
    tiers: Vec<Vec<String>>,
    length: Option<u64>,
    /// A magnet's `x.pe` peers.
    peers: Vec<std::net::SocketAddr>,
}

fn load(input: &str) -> anyhow::Result<Target> {
    if input.starts_with("magnet:") {
        let m = metainfo::Magnet::parse(input).context("magnet link")?;
        let Some(info_hash) = m.info_hash.or_else(|| m.info_hash_v2.map(truncate)) else {
            bail!("magnet link has no info hash");
        };
        return Ok(Target {
            info_hash,
            peers: m.peer_addrs(),
            tiers: m.trackers.into_iter().map(|t| vec![t]).collect(),
            length: None,
        });
    }
    let t = cli::read_torrent(input)?;
    Ok(Target {
        info_hash: tracker::announce_hash(&t).context("torrent has no info hash")?,
        tiers: t.tiers(),
        length: Some(t.content_length()),
        peers: Vec::new(),
    })
}

fn truncate(h: metainfo::InfoHashV2) -> InfoHash {
    let mut b = [0u8; 20];
    b.copy_from_slice(&h.0[..20]);
    InfoHash(b)
}

fn main() -> std::process::ExitCode {
    cli::completions_or_continue::<Args>("bt-announce");
    cli::run(TOOL, || {
        let args = Args::parse();
        body(args)
    })
}

fn body(args: Args) -> anyhow::Result<u8> {
    let Some(input) = args.input.as_deref() else {
        bail!("no torrent given: pass a .torrent path, a magnet link, or - for stdin");
    };
    let target = load(input)?;
    let tiers = if args.trackers.is_empty() {
        target.tiers
    } else {
        args.trackers.iter().map(|t| vec![t.clone()]).collect()
    };
    let mut tiers = Tiers::new(tiers);
    if tiers.is_empty() {
        bail!("{input}: no trackers (pass --tracker URL)");
    }
    let opts = Options {
        timeout: Duration::from_secs_f64(args.timeout),
        bind: args.bind,
    };
    let mut out = Out::new(args.output.mode());
    if args.scrape {
        return scrape(&args, &mut tiers, target.info_hash, &opts, &mut out);
    }
    let mut req = AnnounceRequest::new(
        target.info_hash,
        args.port,
        args.left.or(target.length).unwrap_or(16384),
    )
    .context("no random peer id and key")?;
    req.event = Event::parse(&args.event).context("--event")?;
    req.numwant = args.numwant;
    req.uploaded = args.uploaded;
    req.downloaded = args.downloaded;
    if let Some(h) = &args.peer_id {
        req.peer_id = metainfo::unhex::<20>(h)
            .with_context(|| format!("--peer-id {h:?} is not 40 hex digits"))?;
    }
    let attempts = if args.all {
        tiers.announce_all(&req, &opts)
    } else {
        tiers.announce(&req, &opts)
    };
    let found = tracker::peers_of(&attempts)
        .into_iter()
        .map(|(a, f)| (a, Some(f)));
    for (addr, from) in target.peers.iter().map(|a| (*a, None)).chain(found) {
        match out.mode {
            Mode::Json => out.json(PeerRecord::new(addr, from))?,
            Mode::Human => out.line(&format!("{addr}"))?,
        }
    }
    for a in &attempts {
        report(&args.quiet, &mut out, &AnnounceRecord::from_attempt(a))?;
    }
    let errors: Vec<_> = attempts
        .iter()
        .filter_map(|a| a.result.as_ref().err())
        .collect();
    finish(&args.quiet, errors.len() < attempts.len(), &errors)
}

/// Write an announce record (JSON) or a human line, and name problems on stderr.
fn report(common: &Quiet, out: &mut Out, r: &AnnounceRecord) -> anyhow::Result<()> {
    let t = escape_controls(&r.tracker);
    if let Some(w) = &r.warning {
        common.note(
            TOOL,
            &format!("tracker {t}: warning: {}", escape_controls(w)),
        );
    }
    for n in &r.notes {
        common.note(TOOL, &format!("tracker {t}: {}", escape_controls(n)));
    }
    match out.mode {
        Mode::Json => out.json(r)?,
        Mode::Human if r.ok => common.note(TOOL, &r.human()),
        Mode::Human => {}
    }
    Ok(())
}

/// Name every failure on stderr; exit 0 if some tracker answered, else 1.
fn finish(common: &Quiet, answered: bool, errors: &[&tracker::Error]) -> anyhow::Result<u8> {
    for e in errors {
        let line = format!("{TOOL}: {}", escape_controls(&e.to_string()));
        if !answered || !common.quiet {
            eprintln!("{line}");
        }
    }
    if answered {
        Ok(cli::EXIT_OK)
    } else {
        eprintln!("{TOOL}: no tracker answered");
        Ok(cli::EXIT_NEGATIVE)
    }
}

fn scrape(
    args: &Args,
    tiers: &mut Tiers,
    info_hash: InfoHash,
    opts: &Options,
    out: &mut Out,
) -> anyhow::Result<u8> {
    let attempts = tiers.scrape(&[info_hash], opts, args.all);
    let mut answered = false;
    for a in &attempts {
        let rec = ScrapeRecord::from_attempt(a, info_hash);
        answered |= rec.ok;
        match out.mode {
            Mode::Json => out.json(&rec)?,
            Mode::Human => out.line(&rec.human())?,
        }
    }
    let errors: Vec<_> = attempts
        .iter()
        .filter_map(|a| a.result.as_ref().err())
        .collect();
    finish(&args.quiet, answered, &errors)
}
