//! `bt-ctl`'s side of the daemon: send one command, write the answer (JSON lines on a pipe, a
//! table on a terminal), and turn it into an exit code (0 `ok`; 1 `error` with code
//! `not_found`; 2 any other `error`, or no daemon to talk to). Also the status line and table
//! that `bt-ctl` and `bt-top` share.

use super::human::size;
use super::{Mode, Out, EXIT_ERROR, EXIT_NEGATIVE, EXIT_OK};
use crate::daemon::{client::Target, Command};
use crate::record::{escape_controls as esc, Record, StatusRecord};
use anyhow::Context;
use std::time::Duration;

/// A rate for people: `1.2 MiB/s`, `-` for nothing.
pub fn rate(n: u64) -> String {
    if n == 0 {
        "-".into()
    } else {
        format!("{}/s", size(n, false))
    }
}

/// Seconds for people: `42s`, `3m05s`, `2h10m`, `-` when unknown.
pub fn eta(secs: Option<f64>) -> String {
    let Some(s) = secs.filter(|s| s.is_finite()) else {
        return "-".into();
    };
    let s = s.round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// The columns of the status table.
pub const HEADER: &str = "HASH      NAME                      STATE        DONE    DOWN        UP          PEERS  RATIO  ETA";

/// One torrent as a table row.
pub fn status_line(s: &StatusRecord) -> String {
    let mut name: String = esc(&s.name).chars().take(25).collect();
    while name.chars().count() < 25 {
        name.push(' ');
    }
    format!(
        "{:<8}  {name} {:<12} {:>5.1}%  {:<11} {:<11} {:<6} {:<6.2} {}",
        &s.info_hash[..s.info_hash.len().min(8)],
        s.state,
        s.progress * 100.0,
        rate(s.down_rate),
        rate(s.up_rate),
        s.peers,
        s.ratio,
        eta(s.eta),
    )
}

fn human(r: &Record) -> Option<String> {
    match r {
        Record::Status(s) => Some(status_line(s)),
        Record::Limits(l) => {
            let lim = |v: Option<u64>| v.map(rate).unwrap_or("unlimited".into());
            let whose = l.info_hash.as_deref().unwrap_or("global");
            Some(format!("{whose}: down {}, up {}", lim(l.down), lim(l.up)))
        }
        Record::Ok(ok) => ok.info_hash.as_ref().map(|h| format!("{}: {h}", ok.cmd)),
        _ => None,
    }
}

/// Send `cmd` to the daemon at `target` and write the answer; the exit code.
pub fn run(target: &Target, cmd: Command, mode: Mode) -> anyhow::Result<u8> {
    let watch = matches!(cmd, Command::Watch { .. });
    let timeout = (!watch).then_some(Duration::from_secs(60));
    let mut c = target
        .connect(timeout)
        .with_context(|| format!("cannot connect to {target} (is bt-seed --control running?)"))?;
    let mut out = Out::new(mode);
    let list = matches!(cmd, Command::List { .. });
    if list && mode == Mode::Human {
        out.line(HEADER)?;
    }
    c.send(&cmd)?;
    while let Some(r) = c.read()? {
        if let Record::Error(e) = &r {
            if mode == Mode::Json {
                out.json(r.clone())?;
            }
            let code = if e.code == "not_found" {
                EXIT_NEGATIVE
            } else {
                EXIT_ERROR
            };
            if code == EXIT_ERROR || mode == Mode::Human {
                eprintln!("{}", super::error_line("bt-ctl", &esc(&e.error)));
            }
            return Ok(code);
        }
        let last = matches!(r, Record::Ok(_));
        match mode {
            Mode::Json => out.json(r.clone())?,
            Mode::Human => match human(&r) {
                Some(line) if !(list && last) => out.line(&line)?,
                _ => {}
            },
        }
        if last && !watch {
            return Ok(EXIT_OK);
        }
    }
    if watch {
        return Ok(EXIT_OK);
    }
    anyhow::bail!("the daemon closed the connection without an answer")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_and_rate_read_well() {
        assert_eq!(eta(None), "-");
        assert_eq!(eta(Some(59.4)), "59s");
        assert_eq!(eta(Some(185.0)), "3m05s");
        assert_eq!(eta(Some(7800.0)), "2h10m");
        assert_eq!(rate(0), "-");
        assert_eq!(rate(2048), "2.0 KiB/s");
    }
}
