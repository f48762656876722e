//! Human views of records: sizes in binary units, ISO 8601 dates, plurals, the torrent view
//! (aligned keys, files as an indented tree) and the verify table. Pure text: the caller decides
//! whether to color (a [`Paint`]) and writes the result.

use std::fmt::Write;

use super::Paint;
use crate::record::{
    escape_controls as esc, SummaryRecord, TorrentRecord, VerifyExtra, VerifyFile,
};

/// Choices of a human view.
#[derive(Debug, Clone, Copy)]
pub struct View {
    /// Exact byte counts instead of `1.2 GiB`.
    pub bytes: bool,
    /// Show pad files.
    pub pad: bool,
    /// Colors.
    pub paint: Paint,
}

/// `n` bytes for people: `512 B`, `1.2 GiB`; with `exact`, the plain number of bytes.
pub fn size(n: u64, exact: bool) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if exact {
        return n.to_string();
    }
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// `n` and the noun, singular for 1: `1 piece`, `2 pieces`.
pub fn plural(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Seconds since the epoch as an ISO 8601 UTC time, `2023-11-14T22:13:20Z` (years outside
/// 0..=9999 as the plain number of seconds).
pub fn date(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if !(0..=9999).contains(&year) {
        return format!("{secs} s since 1970");
    }
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The aligned view of a `torrent` record, control characters escaped.
pub fn torrent(r: &TorrentRecord, v: &View) -> String {
    let p = &v.paint;
    let opt = |s: &Option<String>| s.as_deref().map(esc).unwrap_or_else(|| "-".into());
    let mut rows: Vec<(&str, String)> = vec![
        ("name", opt(&r.name)),
        ("info hash", opt(&r.info_hash)),
        ("info hash v2", opt(&r.info_hash_v2)),
        ("version", r.version.to_string().replace('"', "")),
    ];
    let pieces = match (r.piece_count, r.piece_length) {
        (Some(n), Some(l)) => format!("{} of {}", plural(n, "piece", "pieces"), size(l, v.bytes)),
        _ => "-".into(),
    };
    rows.push(("pieces", pieces));
    let total = match (r.total_length, r.file_count) {
        (Some(t), Some(f)) => format!("{} in {}", size(t, v.bytes), plural(f, "file", "files")),
        _ => "-".into(),
    };
    rows.push(("total", total));
    if let (Some(n), Some(missing)) = (r.piece_layers, r.piece_layers_missing) {
        let mut layers = plural(n, "file", "files");
        if missing > 0 {
            let _ = write!(layers, " ({missing} missing)");
        }
        rows.push(("piece layers", layers));
    }
    rows.push((
        "private",
        r.private
            .map(|x| if x { "yes" } else { "no" }.to_string())
            .unwrap_or("-".into()),
    ));
    rows.push(("announce", opt(&r.announce)));
    for (i, tier) in r.announce_list.iter().enumerate() {
        rows.push(("tier", format!("{}: {}", i + 1, esc(&tier.join(" ")))));
    }
    for u in &r.url_list {
        rows.push(("web seed", esc(u)));
    }
    for peer in &r.peers {
        rows.push(("peer", esc(peer)));
    }
    rows.push(("comment", opt(&r.comment)));
    rows.push(("created by", opt(&r.created_by)));
    rows.push((
        "creation date",
        r.creation_date.map(date).unwrap_or("-".into()),
    ));
    rows.push(("source", opt(&r.source)));
    rows.push(("magnet", esc(&r.magnet)));
    if let Some(o) = &r.output {
        rows.push(("written to", esc(o)));
    }
    for w in &r.warnings {
        rows.push(("warning", p.warn(&esc(w))));
    }
    let mut s = String::new();
    for (k, val) in rows {
        let _ = writeln!(s, "{}  {val}", p.heading(&format!("{k:>13}")));
    }
    if !r.files.is_empty() {
        let hidden = r.files.iter().filter(|f| f.pad && !v.pad).count();
        let mut head = plural(r.files.len() as u64 - hidden as u64, "file", "files");
        if hidden > 0 {
            let _ = write!(
                head,
                " ({} hidden, --pad shows them)",
                plural(hidden as u64, "pad file", "pad files")
            );
        }
        let _ = writeln!(s, "{}  {head}", p.heading(&format!("{:>13}", "files")));
        tree(&mut s, r, v);
    }
    if let Some(list) = &r.pieces {
        for (i, h) in list.iter().enumerate() {
            let _ = writeln!(s, "{}  {i:>6} {h}", p.heading(&format!("{:>13}", "piece")));
        }
    }
    s.pop();
    s
}

/// The files as an indented tree under their directories, each with its index in `files` and
/// its size; pad files only with `--pad`.
fn tree(s: &mut String, r: &TorrentRecord, v: &View) {
    let p = &v.paint;
    let shown: Vec<(usize, &crate::record::FileRecord)> = r
        .files
        .iter()
        .enumerate()
        .filter(|(_, f)| v.pad || !f.pad)
        .collect();
    let iw = shown.last().map_or(1, |(i, _)| i.to_string().len());
    let sw = shown
        .iter()
        .map(|(_, f)| size(f.length, v.bytes).len())
        .max()
        .unwrap_or(1);
    let mut open: Vec<&str> = Vec::new();
    for (i, f) in shown {
        let parts: Vec<&str> = f.path.split('/').collect();
        let (dirs, name) = parts.split_at(parts.len() - 1);
        let same = open.iter().zip(dirs).take_while(|(a, b)| a == b).count();
        open.truncate(same);
        for d in &dirs[same..] {
            let _ = writeln!(s, "{:15}{}{}/", "", "  ".repeat(open.len()), esc(d));
            open.push(d);
        }
        let mut line = format!(
            "{:15}{}{} {:>sw$}  {}",
            "",
            "  ".repeat(open.len()),
            p.dim(&format!("[{i:>iw$}]")),
            size(f.length, v.bytes),
            esc(name[0])
        );
        if f.pad {
            line.push_str(&p.dim("  (pad)"));
        }
        if let Some(t) = &f.symlink {
            let _ = write!(line, "  -> {}", esc(t));
        }
        let _ = writeln!(s, "{line}");
    }
}

/// What `bt-make` shows of the torrent it wrote (`r`, the record of what it reads back as),
/// control characters escaped.
pub fn made(r: &TorrentRecord, made: &crate::create::Created) -> Vec<String> {
    let text = |s: &Option<String>| esc(s.as_deref().unwrap_or_default());
    let pieces = plural(made.piece_count as u64, "piece", "pieces");
    let files = plural(made.file_count as u64, "file", "files");
    let mut lines = vec![
        format!("created    {}", text(&r.output)),
        format!("name       {}", text(&r.name)),
        format!(
            "info hash  {}",
            made.info_hash.map_or_else(|| "-".into(), |h| h.hex())
        ),
    ];
    if let Some(h) = made.info_hash_v2 {
        lines.push(format!("v2 hash    {}", h.hex()));
    }
    lines.push(format!(
        "pieces     {pieces} of {} ({} in {files})",
        size(made.piece_length, false),
        size(made.total_length, false),
    ));
    lines.push(format!("magnet     {}", esc(&r.magnet)));
    lines
}

/// The verify table: a header, one line per file (and extra file), the summary line.
/// `shared[i]` tells that file `i` has its own bytes and fails only through a shared piece.
pub fn verify(
    files: &[VerifyFile],
    shared: &[bool],
    extras: &[VerifyExtra],
    s: &SummaryRecord,
    v: &View,
) -> Vec<String> {
    let p = &v.paint;
    let mut out = vec![p.heading(&format!(
        "{:<11} {:>13} {:>12}  {}",
        "STATUS", "BAD/PIECES", "SIZE", "PATH"
    ))];
    for (f, &shared_only) in files.iter().zip(shared) {
        let status = format!("{:<11}", f.status);
        let status = match f.status.as_str() {
            "complete" => p.good(&status),
            _ if shared_only => p.warn(&status),
            _ => p.bad(&status),
        };
        let mut line = format!(
            "{status} {:>13} {:>12}  {}",
            format!("{}/{}", f.bad_pieces, f.pieces),
            size(f.length, v.bytes),
            esc(&f.path)
        );
        if f.status == "wrong_size" {
            let _ = write!(line, " ({} on disk)", size(f.bytes_on_disk, v.bytes));
        }
        if shared_only {
            let _ = write!(
                line,
                " (own bytes present; {} also {} a missing or damaged file)",
                if f.bad_pieces == 1 {
                    "its only bad piece".to_string()
                } else {
                    format!("all {} of its bad pieces", f.bad_pieces)
                },
                if f.bad_pieces == 1 { "covers" } else { "cover" }
            );
        } else if f.shared_bad_pieces > 0 {
            let _ = write!(
                line,
                " ({} shared with other files)",
                plural(f.shared_bad_pieces as u64, "bad piece", "bad pieces")
            );
        }
        if let Some(list) = &f.bad_piece_indices {
            if !list.is_empty() {
                let _ = write!(line, " bad: {list:?}");
            }
        }
        if let Some(e) = &f.error {
            let _ = write!(line, " [{}]", esc(e));
        }
        out.push(line);
    }
    for e in extras {
        out.push(format!(
            "{:<11} {:>13} {:>12}  {}",
            p.dim("extra"),
            "-",
            size(e.bytes, v.bytes),
            esc(&e.path)
        ));
    }
    out.push(verify_summary(s, v));
    out
}

fn verify_summary(s: &SummaryRecord, v: &View) -> String {
    let p = &v.paint;
    let checked = s.bytes_checked.unwrap_or(0);
    let rate = checked as f64 / s.seconds.max(1e-9) / 1e9;
    let files = s.files.unwrap_or(0);
    let bad = s.bad_files.unwrap_or(0);
    let shared = s.shared_bad_files.unwrap_or(0);
    let mut line = format!(
        "{}: {}/{} pieces good, ",
        if s.ok { p.good("OK") } else { p.bad("FAILED") },
        s.good_pieces.unwrap_or(0),
        s.pieces
    );
    if bad == 0 && shared == 0 {
        let _ = write!(line, "{} complete", plural(files, "file", "files"));
    } else {
        let _ = write!(line, "{bad} of {} bad", plural(files, "file", "files"));
        if shared > 0 {
            let _ = write!(
                line,
                " and {} with {} own bytes present but a bad piece shared with a bad file",
                shared,
                if shared == 1 { "its" } else { "their" }
            );
        }
    }
    let _ = write!(
        line,
        ", {} checked in {:.2} s ({rate:.2} GB/s)",
        size(checked, v.bytes),
        s.seconds
    );
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_dates_plurals() {
        assert_eq!(size(0, false), "0 B");
        assert_eq!(size(1023, false), "1023 B");
        assert_eq!(size(1024, false), "1.0 KiB");
        assert_eq!(size(1_288_490_189, false), "1.2 GiB");
        assert_eq!(size(1_288_490_189, true), "1288490189");
        assert_eq!(date(0), "1970-01-01T00:00:00Z");
        assert_eq!(date(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(date(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(date(-1), "1969-12-31T23:59:59Z");
        assert_eq!(date(i64::MAX), format!("{} s since 1970", i64::MAX));
        assert_eq!(plural(1u64, "piece", "pieces"), "1 piece");
        assert_eq!(plural(2u64, "piece", "pieces"), "2 pieces");
    }
}
