//! `bt-top`: a terminal UI (ratatui over crossterm) on the daemon's control socket, or on a
//! record stream read from stdin (`bt-fetch x.torrent --progress-json | bt-top -`).
//!
//! On the socket it asks `list` with `detail` once a second (on a thread of its own) and sends
//! the keys' commands on a connection of their own. On stdin it folds `listening`, `progress`,
//! `status` and `summary` records into one torrent's row. Keys are read from the terminal
//! (`/dev/tty` when stdin is the stream). The terminal is restored on exit, on error and on
//! panic (ratatui's hook); the screen is redrawn whole each round, so a resize just redraws.

use super::ctl::{eta, rate};
use crate::daemon::{client::Target, Command};
use crate::record::{escape_controls as esc, Record, StatusRecord};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Cell, Gauge, Paragraph, Row, Table, TableState};
use std::io::BufRead;
use std::str::FromStr;
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

/// Where the records come from.
pub enum Source {
    /// The daemon (its control socket, or its TCP control address).
    Socket(Target),
    /// A record stream on stdin.
    Stdin,
}

/// What the user is typing at the prompt, and what it is for.
enum Prompt {
    AddTorrent(String),
    AddDir(String, String),
    Limit(Option<String>, String),
    ConfirmRemove(String),
}

struct App {
    source: Source,
    torrents: Vec<StatusRecord>,
    table: TableState,
    message: String,
    prompt: Option<Prompt>,
}

/// Run the UI until `q`; the exit code.
pub fn run(source: Source) -> anyhow::Result<u8> {
    let rx = match &source {
        Source::Socket(p) => poll_socket(p.clone())?,
        Source::Stdin => read_stdin(),
    };
    let mut app = App {
        source,
        torrents: Vec::new(),
        table: TableState::default().with_selected(Some(0)),
        message: "keys: ↑↓ select  p pause  r resume  d remove  a add  l limit (L global)  q quit"
            .into(),
        prompt: None,
    };
    let mut terminal = ratatui::try_init()?;
    let result = app.event_loop(&mut terminal, &rx);
    ratatui::restore();
    result.map(|()| super::EXIT_OK)
}

/// Ask the daemon for every torrent's detailed status once a second.
fn poll_socket(target: Target) -> anyhow::Result<Receiver<Result<Vec<StatusRecord>, String>>> {
    use anyhow::Context;
    let mut c = target
        .connect(Some(Duration::from_secs(10)))
        .with_context(|| format!("cannot connect to {target} (is bt-seed --control running?)"))?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || loop {
        let list = Command::List {
            torrent: None,
            detail: true,
        };
        let got = c.call(&list).map_err(|e| e.to_string()).map(|rs| {
            let status = rs.into_iter().filter_map(|r| match r {
                Record::Status(s) => Some(s),
                _ => None,
            });
            status.collect()
        });
        let failed = got.is_err();
        if tx.send(got).is_err() || failed {
            return;
        }
        std::thread::sleep(Duration::from_secs(1));
    });
    Ok(rx)
}

/// Fold the records of stdin into one torrent's status.
fn read_stdin() -> Receiver<Result<Vec<StatusRecord>, String>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut s = StatusRecord {
            info_hash: String::new(),
            name: "stdin".into(),
            state: "starting".into(),
            progress: 0.0,
            pieces_have: 0,
            pieces: 0,
            bytes_have: 0,
            bytes_total: 0,
            down_rate: 0,
            up_rate: 0,
            peers: 0,
            uploaded: 0,
            downloaded: 0,
            ratio: 0.0,
            eta: None,
            dir: String::new(),
            mode: "fetch".into(),
            down_limit: None,
            up_limit: None,
            port: None,
            error: None,
            files: None,
            peer_list: None,
            piece_map: None,
        };
        let stdin = std::io::stdin().lock();
        for line in stdin.split(b'\n').map_while(Result::ok) {
            match serde_json::from_slice::<Record>(&line) {
                Ok(Record::Listening(l)) => {
                    (s.name, s.info_hash, s.port) = (l.name, l.info_hash, Some(l.port))
                }
                Ok(Record::Progress(p)) => {
                    s.progress = p.bytes_have as f64 / p.bytes_total.max(1) as f64;
                    (s.pieces_have, s.pieces, s.peers) = (p.pieces_have, p.pieces, p.peers);
                    (s.bytes_have, s.bytes_total) = (p.bytes_have, p.bytes_total);
                    (s.downloaded, s.down_rate) = (p.bytes_downloaded, p.rate);
                    let left = p.bytes_total.saturating_sub(p.bytes_have) as f64;
                    s.eta = (p.rate > 0).then(|| left / p.rate as f64);
                    s.state = if p.pieces_have == p.pieces {
                        "complete"
                    } else {
                        "downloading"
                    }
                    .into();
                }
                Ok(Record::Summary(sum)) => {
                    s.state = if sum.ok { "complete" } else { "incomplete" }.into();
                    (s.down_rate, s.eta, s.error) = (0, None, sum.reason);
                }
                Ok(Record::Status(st)) => s = st,
                _ => continue,
            }
            if tx.send(Ok(vec![s.clone()])).is_err() {
                return;
            }
        }
        s.state = format!("{} (stream ended)", s.state);
        let _ = tx.send(Ok(vec![s]));
    });
    rx
}

impl App {
    fn event_loop(
        &mut self,
        terminal: &mut ratatui::DefaultTerminal,
        rx: &Receiver<Result<Vec<StatusRecord>, String>>,
    ) -> anyhow::Result<()> {
        loop {
            while let Ok(got) = rx.try_recv() {
                match got {
                    Ok(t) => self.torrents = t,
                    Err(e) => self.message = format!("lost the daemon: {e}"),
                }
            }
            terminal.draw(|f| self.draw(f))?;
            if !event::poll(Duration::from_millis(250))? {
                continue;
            }
            if let Event::Key(k) = event::read()? {
                if k.kind == KeyEventKind::Press && !self.key(k.code) {
                    return Ok(());
                }
            }
        }
    }

    fn selected(&self) -> Option<&StatusRecord> {
        self.torrents.get(self.table.selected().unwrap_or(0))
    }

    /// Send a command on a connection of its own; the message to show.
    fn send(&mut self, cmd: Command) {
        let Source::Socket(target) = &self.source else {
            self.message = "reading stdin: no daemon to send commands to".into();
            return;
        };
        let name = cmd.name();
        let answer = (target.connect(Some(Duration::from_secs(30)))).and_then(|mut c| c.call(&cmd));
        self.message = match answer.as_ref().map(|a| a.last()) {
            Ok(Some(Record::Error(e))) => format!("{name}: {}", esc(&e.error)),
            Ok(_) => format!("{name}: done"),
            Err(e) => format!("{name}: {e}"),
        };
    }

    /// Handle a key; false to quit.
    fn key(&mut self, code: KeyCode) -> bool {
        if let Some(p) = self.prompt.take() {
            self.prompt_key(p, code);
            return true;
        }
        let n = self.torrents.len();
        let sel = self.table.selected().unwrap_or(0);
        let hash = self.selected().map(|s| s.info_hash.clone());
        match (code, hash) {
            (KeyCode::Char('q') | KeyCode::Esc, _) => return false,
            (KeyCode::Down | KeyCode::Char('j'), _) => {
                self.table.select(Some((sel + 1).min(n.saturating_sub(1))))
            }
            (KeyCode::Up | KeyCode::Char('k'), _) => self.table.select(Some(sel.saturating_sub(1))),
            (KeyCode::Char('p'), Some(h)) => self.send(Command::Pause { torrent: h }),
            (KeyCode::Char('r'), Some(h)) => self.send(Command::Resume { torrent: h }),
            (KeyCode::Char('d') | KeyCode::Delete, Some(h)) => {
                self.prompt = Some(Prompt::ConfirmRemove(h))
            }
            (KeyCode::Char('a'), _) => self.prompt = Some(Prompt::AddTorrent(String::new())),
            (KeyCode::Char('l'), Some(h)) => {
                self.prompt = Some(Prompt::Limit(Some(h), String::new()))
            }
            (KeyCode::Char('L'), _) => self.prompt = Some(Prompt::Limit(None, String::new())),
            _ => {}
        }
        true
    }

    fn prompt_key(&mut self, p: Prompt, code: KeyCode) {
        let edit = |mut s: String| match code {
            KeyCode::Char(c) => {
                s.push(c);
                Some(s)
            }
            KeyCode::Backspace => {
                s.pop();
                Some(s)
            }
            _ => Some(s),
        };
        let enter = code == KeyCode::Enter;
        if code == KeyCode::Esc {
            self.message = "cancelled".into();
            return;
        }
        self.prompt = match p {
            Prompt::ConfirmRemove(h) => {
                if code == KeyCode::Char('y') {
                    self.send(Command::Remove { torrent: h });
                } else {
                    self.message = "not removed".into();
                }
                None
            }
            Prompt::AddTorrent(t) if enter => Some(Prompt::AddDir(t, String::new())),
            Prompt::AddTorrent(t) => edit(t).map(Prompt::AddTorrent),
            Prompt::AddDir(t, d) if enter => {
                let abs =
                    |p: &str| std::path::absolute(p).map(|a| a.to_string_lossy().into_owned());
                let t = match t.starts_with("magnet:") {
                    true => Ok(t),
                    false => abs(&t),
                };
                match (t, abs(if d.is_empty() { "." } else { &d })) {
                    (Ok(torrent), Ok(dir)) => self.send(Command::Add {
                        torrent,
                        dir: Some(dir),
                        seed_only: false,
                        peers: vec![],
                        paused: false,
                    }),
                    (Err(e), _) | (_, Err(e)) => self.message = format!("add: {e}"),
                }
                None
            }
            Prompt::AddDir(t, d) => edit(d).map(|d| Prompt::AddDir(t, d)),
            Prompt::Limit(h, text) if enter => {
                let mut rates = text.split_whitespace().map(super::parse_size);
                match (rates.next().transpose(), rates.next().transpose()) {
                    (Ok(down), Ok(up)) => self.send(Command::Limit {
                        torrent: h,
                        down,
                        up,
                    }),
                    (Err(e), _) | (_, Err(e)) => self.message = format!("limit: {e}"),
                }
                None
            }
            Prompt::Limit(h, text) => edit(text).map(|t| Prompt::Limit(h, t)),
        };
    }

    fn draw(&mut self, f: &mut ratatui::Frame) {
        let [head, list, detail, foot] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Percentage(45),
            Constraint::Min(6),
            Constraint::Length(1),
        ])
        .areas(f.area());
        let (down, up): (u64, u64) = self
            .torrents
            .iter()
            .fold((0, 0), |(d, u), t| (d + t.down_rate, u + t.up_rate));
        let title = format!(
            "bt-top  {} torrents  down {}  up {}",
            self.torrents.len(),
            rate(down),
            rate(up)
        );
        f.render_widget(
            Paragraph::new(title).style(Style::new().add_modifier(Modifier::BOLD)),
            head,
        );
        let rows = self.torrents.iter().map(|t| {
            Row::new(vec![
                Cell::from(esc(&t.name)),
                Cell::from(t.state.clone()),
                Cell::from(format!(
                    "{} {:5.1}%",
                    bar(t.progress, 12),
                    t.progress * 100.0
                )),
                Cell::from(rate(t.down_rate)),
                Cell::from(rate(t.up_rate)),
                Cell::from(t.peers.to_string()),
                Cell::from(eta(t.eta)),
            ])
        });
        let widths = [
            Constraint::Fill(1),
            Constraint::Length(12),
            Constraint::Length(21),
            Constraint::Length(12),
            Constraint::Length(12),
            Constraint::Length(5),
            Constraint::Length(7),
        ];
        let header = Row::new(["NAME", "STATE", "PROGRESS", "DOWN", "UP", "PEERS", "ETA"])
            .style(Style::new().add_modifier(Modifier::BOLD));
        let table = Table::new(rows, widths)
            .header(header)
            .block(Block::new().borders(Borders::ALL).title("torrents"))
            .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED));
        f.render_stateful_widget(table, list, &mut self.table);
        self.draw_detail(f, detail);
        let foot_text = match &self.prompt {
            None => self.message.clone(),
            Some(Prompt::AddTorrent(t)) => format!("add: .torrent path or magnet link: {t}_"),
            Some(Prompt::AddDir(_, d)) => format!("add: directory (default .): {d}_"),
            Some(Prompt::Limit(h, t)) => format!(
                "limit {}: DOWN [UP] (K/M suffixes, 0 = none): {t}_",
                h.as_deref()
                    .map(|h| &h[..8.min(h.len())])
                    .unwrap_or("global")
            ),
            Some(Prompt::ConfirmRemove(h)) => {
                format!("remove {}? (files stay) y/n", &h[..8.min(h.len())])
            }
        };
        f.render_widget(Paragraph::new(foot_text), foot);
    }

    fn draw_detail(&self, f: &mut ratatui::Frame, area: ratatui::layout::Rect) {
        let Some(t) = self.selected() else {
            let none =
                Paragraph::new("no torrent (a: add one)").block(Block::new().borders(Borders::ALL));
            f.render_widget(none, area);
            return;
        };
        let block =
            Block::new()
                .borders(Borders::ALL)
                .title(format!("{} {}", esc(&t.name), t.info_hash));
        let inner = block.inner(area);
        f.render_widget(block, area);
        let [pieces, map, info, lists] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(1),
        ])
        .areas(inner);
        let label = format!("pieces {}/{}", t.pieces_have, t.pieces);
        f.render_widget(
            Gauge::default()
                .ratio(t.progress.clamp(0.0, 1.0))
                .label(label),
            pieces,
        );
        let limit = |l: Option<u64>| l.map(rate).unwrap_or("-".into());
        let line = format!(
            "dir {}  mode {}  uploaded {}  ratio {:.2}  limits down {} up {}{}",
            esc(&t.dir),
            t.mode,
            super::human::size(t.uploaded, false),
            t.ratio,
            limit(t.down_limit),
            limit(t.up_limit),
            t.error
                .as_ref()
                .map(|e| format!("  error: {}", esc(e)))
                .unwrap_or_default()
        );
        f.render_widget(Paragraph::new(line), info);
        let cells = map.width.saturating_sub(5) as usize;
        let map_line = match &t.piece_map {
            Some(m) => format!("map  {}", piece_map(m, cells)),
            None => "map  (not known yet)".into(),
        };
        f.render_widget(Paragraph::new(map_line), map);
        let [files, peers] =
            Layout::horizontal([Constraint::Percentage(35), Constraint::Fill(1)]).areas(lists);
        let file_lines: Vec<Line> = (t.files.iter().flatten())
            .map(|x| {
                Line::from(format!(
                    "{:>10}  {}",
                    super::human::size(x.length, false),
                    esc(&x.path)
                ))
            })
            .collect();
        f.render_widget(
            Paragraph::new(file_lines).block(Block::new().title("files")),
            files,
        );
        let peer_rows = (t.peer_list.iter().flatten()).map(|p| {
            let addr = std::net::IpAddr::from_str(&p.ip)
                .map(|ip| std::net::SocketAddr::new(ip, p.port).to_string())
                .unwrap_or_else(|_| format!("{}:{}", esc(&p.ip), p.port));
            Row::new(vec![
                Cell::from(if p.incoming { "in" } else { "out" }),
                Cell::from(addr),
                Cell::from(p.client.as_deref().map(esc).unwrap_or("?".into())),
                Cell::from(rate(p.down_rate)),
                Cell::from(rate(p.up_rate)),
                Cell::from(peer_flags(p)),
            ])
        });
        let widths = [
            Constraint::Length(3),
            Constraint::Fill(1),
            Constraint::Length(7),
            Constraint::Length(12),
            Constraint::Length(12),
            Constraint::Length(5),
        ];
        let header = Row::new(["", "PEER", "CLIENT", "DOWN", "UP", "FLAGS"])
            .style(Style::new().add_modifier(Modifier::BOLD));
        let table = Table::new(peer_rows, widths)
            .header(header)
            .block(Block::new().title("peers (E encrypted, C choked by us, I interested)"));
        f.render_widget(table, peers);
    }
}

/// A peer's flags: `E` encrypted, `C` we choke it, `I` it is interested in our pieces.
fn peer_flags(p: &crate::record::StatusPeer) -> String {
    let flags = [(p.encrypted, 'E'), (p.choked, 'C'), (p.interested, 'I')];
    let set = flags
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, c)| *c)
        .collect::<String>();
    if set.is_empty() {
        "-".into()
    } else {
        set
    }
}

/// A piece map of `width` cells from runs' verified shares in percent: `·` none, `░` `▒` `▓`
/// some, `█` all (each cell shows the run under it).
fn piece_map(runs: &[u8], width: usize) -> String {
    if runs.is_empty() {
        return String::new();
    }
    (0..width)
        .map(|i| match runs[i * runs.len() / width] {
            0 => '·',
            1..=33 => '░',
            34..=66 => '▒',
            67..=99 => '▓',
            _ => '█',
        })
        .collect()
}

/// A text progress bar of `width` cells.
fn bar(progress: f64, width: usize) -> String {
    let full = ((progress.clamp(0.0, 1.0) * width as f64).round() as usize).min(width);
    format!("{}{}", "█".repeat(full), "·".repeat(width - full))
}
