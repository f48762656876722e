//! `bt-info`: show what a torrent file or a magnet link contains.

use std::io::IsTerminal;

use bt::cli::{self, human, Mode, Out, Output};
use bt::metainfo::Magnet;
use bt::record::TorrentRecord;
use clap::Parser;

/// Show what a .torrent file or a magnet link contains: info hashes, files, trackers, magnet.
///
/// Writes one JSON object (`"type": "torrent"`, see lib/record.rs) when stdout is not a
/// terminal, an aligned view when it is: sizes in binary units (`1.2 GiB`, exact with --bytes),
/// the creation date in ISO 8601 UTC, files as a tree with their indices (pad files hidden
/// unless --pad). The file is validated first (strict bencode, piece geometry, safe paths, v2
/// merkle layers); an invalid or empty torrent is an error (exit 2).
#[derive(Parser, Debug)]
#[command(name = "bt-info", version, after_help = cli::EXIT_CODES_HELP)]
struct Args {
    /// A .torrent file, a magnet link, or - for stdin (the default when stdin is a pipe).
    #[arg(value_name = "TORRENT|MAGNET|-")]
    input: Option<String>,
    /// Also list the v1 piece hashes (hex).
    #[arg(long)]
    pieces: bool,
    /// Human view: exact byte counts instead of 1.2 GiB.
    #[arg(long)]
    bytes: bool,
    /// Human view: also list pad files (BEP 47).
    #[arg(long)]
    pad: bool,
    #[command(flatten)]
    output: Output,
}

fn main() -> std::process::ExitCode {
    cli::completions_or_continue::<Args>("bt-info");
    cli::run("bt-info", || {
        let args = Args::parse();
        let input = match args.input.as_deref() {
            Some(i) => i,
            None if std::io::stdin().is_terminal() => {
                anyhow::bail!("no torrent given: pass a .torrent path, a magnet link, or pipe a torrent into stdin (see --help)")
            }
            None => "-",
        };
        let record = if input
            .get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("magnet:"))
        {
            // The error names the link already ("magnet link \"...\" has no ...").
            TorrentRecord::from_magnet(&Magnet::parse(input)?)
        } else {
            let t = cli::read_torrent(input)?;
            TorrentRecord::from_torrent(&t, args.pieces)
        };
        let mut out = Out::new(args.output.mode());
        match out.mode {
            Mode::Json => out.json(record)?,
            Mode::Human => {
                let view = human::View {
                    bytes: args.bytes,
                    pad: args.pad,
                    paint: args.output.paint(),
                };
                out.line(&human::torrent(&record, &view))?
            }
        }
        Ok(cli::EXIT_OK)
    })
}
