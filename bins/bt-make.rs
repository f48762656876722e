//! `bt-make`: create a v1, v2 or hybrid torrent of a file or a directory.

use std::ffi::OsString;
use std::fs;
use std::io::IsTerminal;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use bt::{cli, create, metainfo, record};
use clap::Parser;

/// Create a BitTorrent .torrent (v1 unless --v2 or --hybrid) of a file or a directory. Files are ordered by path bytes;
/// hidden files and symlinks are skipped unless asked for. The default piece length keeps the
/// piece count between 1000 and 2000 (a power of two, 16 KiB to 16 MiB; -l takes up to 64 MiB). The same input and
/// options give a byte-identical torrent; SOURCE_DATE_EPOCH sets the creation date.
#[derive(Debug, Parser)]
#[command(name = "bt-make", version, after_help = cli::EXIT_CODES_HELP)]
struct Args {
    /// The file or directory to make a torrent of.
    path: PathBuf,
    /// Where to write the torrent (default: `<NAME>.torrent` here; `-` for stdout, then no summary).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Tracker URL; each use is one tier, comma-separated URLs in one use share a tier.
    #[arg(short, long, value_name = "URL")]
    announce: Vec<String>,
    /// Web seed URL (BEP 19); repeatable, or comma-separated.
    #[arg(short, long, value_name = "URL")]
    web_seed: Vec<String>,
    /// Set the private flag (BEP 27).
    #[arg(short, long)]
    private: bool,
    /// Source tag inside the info dictionary (changes the info hash).
    #[arg(short, long, value_name = "TEXT")]
    source: Option<String>,
    /// Comment.
    #[arg(short, long, value_name = "TEXT")]
    comment: Option<String>,
    /// Torrent name (default: the file or directory name).
    #[arg(short, long, value_name = "NAME")]
    name: Option<OsString>,
    /// Piece length: bytes or 256K, 1M, 4MiB; a power of two from 16 KiB to 64 MiB. A piece
    /// length larger than the data (one piece) is taken with a warning.
    #[arg(short = 'l', long, value_name = "SIZE", value_parser = piece_length)]
    piece_length: Option<u64>,
    /// Write no creation date.
    #[arg(long)]
    no_creation_date: bool,
    /// The `created by` field (default: `bt/<version>`).
    #[arg(long, value_name = "TEXT", conflicts_with = "no_created_by")]
    created_by: Option<String>,
    /// Write no `created by` field.
    #[arg(long)]
    no_created_by: bool,
    /// Include files and directories whose name starts with a dot.
    #[arg(long)]
    include_hidden: bool,
    /// Leave out files and directories that GLOB matches; repeatable. Globs are gitignore-like:
    /// `*` and `?` never match `/`; `**` as a path component matches any number of directories
    /// (`**/*.bin`, `cache/**`); a glob without `/` matches a name at any depth, one with a `/`
    /// matches the path from the input's root; a trailing `/` matches directories only; `[a-z]`
    /// sets, `\*` a literal `*`. A file given as PATH is checked by its name too.
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
    /// Take only the files that GLOB matches (same rules as --exclude, which wins); repeatable.
    #[arg(long, value_name = "GLOB")]
    include: Vec<String>,
    /// Follow symlinks (loops are skipped).
    #[arg(long)]
    follow_symlinks: bool,
    /// Make a BitTorrent v2-only torrent (BEP 52: per-file SHA-256 merkle trees, files on
    /// piece boundaries). Transmission, aria2 and rqbit cannot download these.
    #[arg(long, conflicts_with = "hybrid")]
    v2: bool,
    /// Make a hybrid v1 + v2 torrent (BEP 52 with BEP 47 pad files): every client can use it.
    #[arg(long)]
    hybrid: bool,
    /// Overwrite an existing output file.
    #[arg(short, long)]
    force: bool,
    #[command(flatten)]
    common: cli::Common,
}

fn piece_length(s: &str) -> Result<u64, String> {
    let n = cli::parse_size(s)?;
    create::check_piece_length(n).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    cli::completions_or_continue::<Args>("bt-make");
    cli::run("bt-make", || run(Args::parse()))
}

fn run(args: Args) -> anyhow::Result<u8> {
    args.common.init_jobs();
    let path = args.path.clone();
    let mut opts = options(&args)?;
    let output = match &args.output {
        Some(o) if o.as_os_str() == "-" => {
            if std::io::stdout().is_terminal() {
                bail!("refusing to write a binary torrent to a terminal: redirect stdout");
            }
            None
        }
        Some(o) => Some(o.clone()),
        None => {
            let mut n = create::torrent_name(&path, &opts.walk)?;
            n.extend_from_slice(b".torrent");
            Some(PathBuf::from(OsString::from_vec(n)))
        }
    };
    if let Some(out) = &output {
        if !args.force && fs::symlink_metadata(out).is_ok() {
            return Err(create::Error::Exists(out.clone()).into());
        }
        // A previous output inside the input is not part of the content.
        if let Ok(m) = fs::metadata(out) {
            let same = |i: fs::Metadata| (i.dev(), i.ino()) == (m.dev(), m.ino());
            if fs::metadata(&path).is_ok_and(same) {
                bail!("{}: the output would replace the input", out.display());
            }
            opts.walk.skip_files.push((m.dev(), m.ino()));
        }
    }
    let layout = create::walk(&path, &opts.walk)?;
    for w in &layout.warnings {
        args.common.note("bt-make", &cli::escape_controls(w));
    }
    let piece_length = opts
        .piece_length
        .unwrap_or_else(|| create::default_piece_length(layout.total_length));
    if opts.piece_length.is_some() && piece_length > layout.total_length {
        args.common.note(
            "bt-make",
            &format!(
                "warning: piece length {piece_length} is larger than the {} bytes of data: the torrent has one piece",
                layout.total_length
            ),
        );
    }
    let bar = cli::Progress::bytes(
        args.common.progress_allowed(),
        layout.total_length,
        "hashing",
    );
    let made = create::hash_and_build(&layout, piece_length, &opts, &bar.callback())?;
    bar.finish();
    let torrent = self_check(&made)?;
    let Some(out) = output else {
        cli::Out::new(cli::Mode::Json).raw(&made.bytes)?;
        return Ok(cli::EXIT_OK);
    };
    create::write_torrent(&out, &made.bytes, args.force)?;
    let rec = record::TorrentRecord::made(&torrent, &out);
    let mut stdout = cli::Out::new(args.common.mode());
    match stdout.mode {
        cli::Mode::Json => stdout.json(&rec)?,
        cli::Mode::Human => {
            let e = cli::escape_controls;
            stdout.line(&format!("created    {}", e(&out.display().to_string())))?;
            stdout.line(&format!("name       {}", e(&torrent.name_lossy())))?;
            stdout.line(&format!(
                "info hash  {}",
                made.info_hash
                    .map(|h| h.hex())
                    .unwrap_or_else(|| "-".into())
            ))?;
            if let Some(h) = made.info_hash_v2 {
                stdout.line(&format!("v2 hash    {}", h.hex()))?;
            }
            let h = |n: u64| cli::human::size(n, false);
            stdout.line(&format!(
                "pieces     {} of {} ({} in {})",
                cli::human::plural(made.piece_count as u64, "piece", "pieces"),
                h(made.piece_length),
                h(made.total_length),
                cli::human::plural(made.file_count as u64, "file", "files")
            ))?;
            stdout.line(&format!("magnet     {}", e(&rec.magnet)))?;
        }
    }
    Ok(cli::EXIT_OK)
}

/// The library options from the flags and the environment (`SOURCE_DATE_EPOCH`, the clock).
fn options(args: &Args) -> anyhow::Result<create::Options> {
    let split = |v: &[String]| -> Vec<Vec<String>> {
        v.iter()
            .map(|s| {
                s.split(',')
                    .map(|u| u.trim().to_string())
                    .filter(|u| !u.is_empty())
                    .collect::<Vec<_>>()
            })
            .filter(|t| !t.is_empty())
            .collect()
    };
    let creation_date = if args.no_creation_date {
        None
    } else if let Some(v) = std::env::var_os("SOURCE_DATE_EPOCH") {
        let s = v.to_string_lossy();
        Some(
            s.trim()
                .parse::<i64>()
                .ok()
                .filter(|&d| d >= 0)
                .with_context(|| {
                    format!("SOURCE_DATE_EPOCH {s:?} is not a non-negative integer")
                })?,
        )
    } else {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        Some(now.map(|d| d.as_secs() as i64).unwrap_or(0))
    };
    let created_by = match (&args.created_by, args.no_created_by) {
        (_, true) => None,
        (Some(c), false) => Some(c.clone()),
        (None, false) => Some(create::CREATED_BY.to_string()),
    };
    Ok(create::Options {
        walk: create::WalkOptions {
            include_hidden: args.include_hidden,
            follow_symlinks: args.follow_symlinks,
            exclude: args.exclude.clone(),
            include: args.include.clone(),
            name: args.name.as_ref().map(|n| n.as_bytes().to_vec()),
            skip_files: Vec::new(),
        },
        announce: split(&args.announce),
        web_seeds: split(&args.web_seed).concat(),
        private: args.private,
        source: args.source.clone(),
        comment: args.comment.clone(),
        piece_length: args.piece_length,
        creation_date,
        created_by,
        version: match (args.v2, args.hybrid) {
            (true, _) => metainfo::Version::V2,
            (_, true) => metainfo::Version::Hybrid,
            _ => metainfo::Version::V1,
        },
    })
}

/// Read our own output back with the strict parser (the record is made from what it reads).
fn self_check(made: &create::Created) -> anyhow::Result<metainfo::Torrent> {
    let t = metainfo::Torrent::from_bytes(&made.bytes)
        .context("internal error: the created torrent does not parse")?;
    if t.info_hash != made.info_hash
        || t.info_hash_v2 != made.info_hash_v2
        || t.piece_count() != made.piece_count
        || t.files.iter().filter(|f| !f.pad).count() != made.file_count
        || t.content_length() != made.total_length
    {
        bail!("internal error: the created torrent reads back differently");
    }
    Ok(t)
}
