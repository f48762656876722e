
use builtin;
use str;

set edit:completion:arg-completer[bt-ctl] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'bt-ctl'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'bt-ctl'= {
            cand -c 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)'
            cand --control 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)'
            cand --connect 'Talk to the daemon''s TCP control address instead (bt-seed --control-tcp)'
            cand --token-file 'The file holding the daemon''s token (with --connect)'
            cand --color 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never'
            cand --json 'Write JSON records (one object per line), even on a terminal'
            cand --human 'Write human-readable output, even on a pipe'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand add 'Add a .torrent or a magnet link: fetch it into DIR, then seed it (--seed-only: serve what is there). A magnet''s metadata comes from its x.pe peers, its trackers and --peer'
            cand ls 'List the torrents (one `status` record each)'
            cand list 'List the torrents (one `status` record each)'
            cand pause 'Stop a torrent''s transfers; it stays listed, its data stays on disk'
            cand resume 'Start a paused torrent again (what is on disk is verified, not fetched again)'
            cand rm 'Stop a torrent and forget it; its files stay on disk'
            cand remove 'Stop a torrent and forget it; its files stay on disk'
            cand limit 'Set the download and upload limits, global or of TORRENT (0: unlimited; K/M/G suffixes)'
            cand watch 'Stream every torrent''s `status` each interval until interrupted'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'bt-ctl;add'= {
            cand -d 'Directory holding DIR/NAME'
            cand --dir 'Directory holding DIR/NAME'
            cand --peer 'A peer to dial (repeatable), besides those the trackers name'
            cand -c 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)'
            cand --control 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)'
            cand --connect 'Talk to the daemon''s TCP control address instead (bt-seed --control-tcp)'
            cand --token-file 'The file holding the daemon''s token (with --connect)'
            cand --color 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never'
            cand --seed-only 'Serve what is on disk, never download'
            cand --paused 'Add it paused'
            cand --json 'Write JSON records (one object per line), even on a terminal'
            cand --human 'Write human-readable output, even on a pipe'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'bt-ctl;ls'= {
            cand -c 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)'
            cand --control 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)'
            cand --connect 'Talk to the daemon''s TCP control address instead (bt-seed --control-tcp)'
            cand --token-file 'The file holding the daemon''s token (with --connect)'
            cand --color 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never'
            cand --detail 'Include the files and connected peers'
            cand --json 'Write JSON records (one object per line), even on a terminal'
            cand --human 'Write human-readable output, even on a pipe'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'bt-ctl;list'= {
            cand -c 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)'
            cand --control 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)'
            cand --connect 'Talk to the daemon''s TCP control address instead (bt-seed --control-tcp)'
            cand --token-file 'The file holding the daemon''s token (with --connect)'
            cand --color 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never'
            cand --detail 'Include the files and connected peers'
            cand --json 'Write JSON records (one object per line), even on a terminal'
            cand --human 'Write human-readable output, even on a pipe'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'bt-ctl;pause'= {
            cand -c 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)'
            cand --control 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)'
            cand --connect 'Talk to the daemon''s TCP control address instead (bt-seed --control-tcp)'
            cand --token-file 'The file holding the daemon''s token (with --connect)'
            cand --color 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never'
            cand --json 'Write JSON records (one object per line), even on a terminal'
            cand --human 'Write human-readable output, even on a pipe'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'bt-ctl;resume'= {
            cand -c 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)'
            cand --control 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)'
            cand --connect 'Talk to the daemon''s TCP control address instead (bt-seed --control-tcp)'
            cand --token-file 'The file holding the daemon''s token (with --connect)'
            cand --color 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never'
            cand --json 'Write JSON records (one object per line), even on a terminal'
            cand --human 'Write human-readable output, even on a pipe'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'bt-ctl;rm'= {
            cand -c 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)'
            cand --control 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)'
            cand --connect 'Talk to the daemon''s TCP control address instead (bt-seed --control-tcp)'
            cand --token-file 'The file holding the daemon''s token (with --connect)'
            cand --color 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never'
            cand --json 'Write JSON records (one object per line), even on a terminal'
            cand --human 'Write human-readable output, even on a pipe'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'bt-ctl;remove'= {
            cand -c 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)'
            cand --control 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)'
            cand --connect 'Talk to the daemon''s TCP control address instead (bt-seed --control-tcp)'
            cand --token-file 'The file holding the daemon''s token (with --connect)'
            cand --color 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never'
            cand --json 'Write JSON records (one object per line), even on a terminal'
            cand --human 'Write human-readable output, even on a pipe'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'bt-ctl;limit'= {
            cand --down 'Download limit in bytes per second'
            cand --up 'Upload limit in bytes per second'
            cand -c 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)'
            cand --control 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)'
            cand --connect 'Talk to the daemon''s TCP control address instead (bt-seed --control-tcp)'
            cand --token-file 'The file holding the daemon''s token (with --connect)'
            cand --color 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never'
            cand --json 'Write JSON records (one object per line), even on a terminal'
            cand --human 'Write human-readable output, even on a pipe'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'bt-ctl;watch'= {
            cand --interval 'Seconds between two rounds'
            cand -c 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)'
            cand --control 'The daemon''s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)'
            cand --connect 'Talk to the daemon''s TCP control address instead (bt-seed --control-tcp)'
            cand --token-file 'The file holding the daemon''s token (with --connect)'
            cand --color 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never'
            cand --json 'Write JSON records (one object per line), even on a terminal'
            cand --human 'Write human-readable output, even on a pipe'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'bt-ctl;help'= {
            cand add 'Add a .torrent or a magnet link: fetch it into DIR, then seed it (--seed-only: serve what is there). A magnet''s metadata comes from its x.pe peers, its trackers and --peer'
            cand ls 'List the torrents (one `status` record each)'
            cand pause 'Stop a torrent''s transfers; it stays listed, its data stays on disk'
            cand resume 'Start a paused torrent again (what is on disk is verified, not fetched again)'
            cand rm 'Stop a torrent and forget it; its files stay on disk'
            cand limit 'Set the download and upload limits, global or of TORRENT (0: unlimited; K/M/G suffixes)'
            cand watch 'Stream every torrent''s `status` each interval until interrupted'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'bt-ctl;help;add'= {
        }
        &'bt-ctl;help;ls'= {
        }
        &'bt-ctl;help;pause'= {
        }
        &'bt-ctl;help;resume'= {
        }
        &'bt-ctl;help;rm'= {
        }
        &'bt-ctl;help;limit'= {
        }
        &'bt-ctl;help;watch'= {
        }
        &'bt-ctl;help;help'= {
        }
    ]
    $completions[$command]
}
