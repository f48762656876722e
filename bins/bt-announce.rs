//! bt-announce: ask a torrent's trackers for peers (or swarm counts) and write them as records.

use anyhow::{bail, Context};
use bt::cli::{self, escape_controls, Mode, Out, Output, Quiet};
use bt::metainfo::unhex;
use bt::record::{AnnounceRecord, PeerRecord, ScrapeRecord};
use bt::tracker::{self, Event, Options};
use clap::Parser;
use std::net::IpAddr;
use std::time::Duration;

const TOOL: &str = "bt-announce";

/// Ask a torrent's trackers (HTTP, HTTPS, UDP) or the DHT for peers.
///
/// Trackers are asked tier by tier (BEP 12) until one answers, or all at once with --all; with
/// --dht, the DHT is asked instead (never for a private torrent).
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
    /// The port we report to the trackers (default 6881); with --dht, announce us at it.
    #[arg(long, value_name = "N")]
    port: Option<u16>,
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
    #[arg(long = "tracker", value_name = "URL", value_parser = tracker::parse_url)]
    trackers: Vec<String>,
    /// Ask every tracker at once instead of stopping at the first that answers.
    #[arg(long)]
    all: bool,
    /// Ask for swarm counts (scrape) instead of announcing.
    #[arg(long)]
    scrape: bool,
    /// Seconds allowed for each tracker: more than 0 and at most 3600 (fractions allowed).
    #[arg(long, default_value_t = 15.0, value_name = "SECONDS", value_parser = tracker::parse_timeout,
          allow_negative_numbers = true)]
    timeout: f64,
    /// Local address to announce from (udp:// and http:// trackers; https:// uses the system's
    /// choice). Trackers record this address as ours.
    #[arg(long, value_name = "ADDR")]
    bind: Option<IpAddr>,
    #[command(flatten)]
    dht: cli::dht::DhtAnnounceArgs,
    #[command(flatten)]
    output: Output,
    #[command(flatten)]
    quiet: Quiet,
}

fn main() -> std::process::ExitCode {
    cli::completions_or_continue::<Args>(TOOL);
    cli::run(TOOL, || {
        let args = Args::parse();
        let Some(input) = args.input.as_deref() else {
            bail!("no torrent given: pass a .torrent path, a magnet link, or - for stdin");
        };
        let (target, private) = cli::announce_target(input)?;
        let mut out = Out::new(args.output.mode());
        if args.dht.dht {
            let (to, how) = ((args.bind, args.port), (&mut out, &args.quiet));
            return cli::dht::announce(TOOL, &args.dht, (&target, private), to, args.timeout, how);
        }
        let mut tiers = target.tiers(&args.trackers);
        if tiers.is_empty() {
            bail!("{input}: no trackers (pass --tracker URL)");
        }
        let opts = Options {
            timeout: Duration::from_secs_f64(args.timeout),
            bind: args.bind,
        };
        if args.scrape {
            let attempts = tiers.scrape(&[target.info_hash], &opts, args.all);
            let mut answered = false;
            for a in &attempts {
                let rec = ScrapeRecord::from_attempt(a, target.info_hash);
                answered |= rec.ok;
                out.records([&rec], || vec![rec.human()])?;
            }
            return Ok(finish(&args.quiet, answered, &tracker::failures(&attempts)));
        }
        let mut req = (target.request(args.port.unwrap_or(6881), args.left))
            .context("no random peer id and key")?;
        req.event = Event::parse(&args.event).context("--event")?;
        req.numwant = args.numwant;
        req.uploaded = args.uploaded;
        req.downloaded = args.downloaded;
        if let Some(h) = &args.peer_id {
            req.peer_id =
                unhex::<20>(h).with_context(|| format!("--peer-id {h:?} is not 40 hex digits"))?;
        }
        let attempts = if args.all {
            tiers.announce_all(&req, &opts)
        } else {
            tiers.announce(&req, &opts)
        };
        let found = tracker::peers_of(&attempts).into_iter();
        let xpe = target.peers.iter().map(|a| (*a, None));
        for (addr, from) in xpe.chain(found.map(|(a, f)| (a, Some(f)))) {
            out.records([PeerRecord::new(addr, from)], || vec![addr.to_string()])?;
        }
        for a in &attempts {
            let rec = AnnounceRecord::from_attempt(a);
            rec.diagnostics()
                .iter()
                .for_each(|d| args.quiet.note(TOOL, d));
            match out.mode {
                Mode::Json => out.json(&rec)?,
                Mode::Human if rec.ok => args.quiet.note(TOOL, &rec.human()),
                Mode::Human => {}
            }
        }
        let errors = tracker::failures(&attempts);
        Ok(finish(&args.quiet, errors.len() < attempts.len(), &errors))
    })
}

/// Name every failure on stderr (even with -q when no tracker answered); exit 0 if some
/// tracker answered, else 1.
fn finish(quiet: &Quiet, answered: bool, errors: &[&tracker::Error]) -> u8 {
    for e in errors.iter().filter(|_| !answered || !quiet.quiet) {
        eprintln!("{TOOL}: {}", escape_controls(&e.to_string()));
    }
    if !answered {
        eprintln!("{TOOL}: no tracker answered");
    }
    cli::exit_code(answered)
}
