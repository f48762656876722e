# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_bt_ctl_global_optspecs
    string join \n c/control= connect= token-file= json human color= h/help V/version
end

function __fish_bt_ctl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_bt_ctl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_bt_ctl_using_subcommand
    set -l cmd (__fish_bt_ctl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c bt-ctl -n "__fish_bt_ctl_needs_command" -s c -l control -d 'The daemon\'s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)' -r -F
complete -c bt-ctl -n "__fish_bt_ctl_needs_command" -l connect -d 'Talk to the daemon\'s TCP control address instead (bt-seed --control-tcp)' -r
complete -c bt-ctl -n "__fish_bt_ctl_needs_command" -l token-file -d 'The file holding the daemon\'s token (with --connect)' -r -F
complete -c bt-ctl -n "__fish_bt_ctl_needs_command" -l color -d 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never' -r -f -a "auto\t'Color when the stream is a terminal, `NO_COLOR` is unset and `TERM` is not `dumb`'
always\t'Always color (even with `NO_COLOR`)'
never\t'Never color'"
complete -c bt-ctl -n "__fish_bt_ctl_needs_command" -l json -d 'Write JSON records (one object per line), even on a terminal'
complete -c bt-ctl -n "__fish_bt_ctl_needs_command" -l human -d 'Write human-readable output, even on a pipe'
complete -c bt-ctl -n "__fish_bt_ctl_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bt-ctl -n "__fish_bt_ctl_needs_command" -s V -l version -d 'Print version'
complete -c bt-ctl -n "__fish_bt_ctl_needs_command" -f -a "add" -d 'Add a .torrent or a magnet link: fetch it into DIR, then seed it (--seed-only: serve what is there). A magnet\'s metadata comes from its x.pe peers, its trackers and --peer'
complete -c bt-ctl -n "__fish_bt_ctl_needs_command" -f -a "ls" -d 'List the torrents (one `status` record each)'
complete -c bt-ctl -n "__fish_bt_ctl_needs_command" -f -a "list" -d 'List the torrents (one `status` record each)'
complete -c bt-ctl -n "__fish_bt_ctl_needs_command" -f -a "pause" -d 'Stop a torrent\'s transfers; it stays listed, its data stays on disk'
complete -c bt-ctl -n "__fish_bt_ctl_needs_command" -f -a "resume" -d 'Start a paused torrent again (what is on disk is verified, not fetched again)'
complete -c bt-ctl -n "__fish_bt_ctl_needs_command" -f -a "rm" -d 'Stop a torrent and forget it; its files stay on disk'
complete -c bt-ctl -n "__fish_bt_ctl_needs_command" -f -a "remove" -d 'Stop a torrent and forget it; its files stay on disk'
complete -c bt-ctl -n "__fish_bt_ctl_needs_command" -f -a "limit" -d 'Set the download and upload limits, global or of TORRENT (0: unlimited; K/M/G suffixes)'
complete -c bt-ctl -n "__fish_bt_ctl_needs_command" -f -a "watch" -d 'Stream every torrent\'s `status` each interval until interrupted'
complete -c bt-ctl -n "__fish_bt_ctl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand add" -s d -l dir -d 'Directory holding DIR/NAME' -r -F
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand add" -l peer -d 'A peer to dial (repeatable), besides those the trackers name' -r
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand add" -s c -l control -d 'The daemon\'s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)' -r -F
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand add" -l connect -d 'Talk to the daemon\'s TCP control address instead (bt-seed --control-tcp)' -r
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand add" -l token-file -d 'The file holding the daemon\'s token (with --connect)' -r -F
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand add" -l color -d 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never' -r -f -a "auto\t'Color when the stream is a terminal, `NO_COLOR` is unset and `TERM` is not `dumb`'
always\t'Always color (even with `NO_COLOR`)'
never\t'Never color'"
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand add" -l seed-only -d 'Serve what is on disk, never download'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand add" -l paused -d 'Add it paused'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand add" -l json -d 'Write JSON records (one object per line), even on a terminal'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand add" -l human -d 'Write human-readable output, even on a pipe'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand ls" -s c -l control -d 'The daemon\'s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)' -r -F
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand ls" -l connect -d 'Talk to the daemon\'s TCP control address instead (bt-seed --control-tcp)' -r
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand ls" -l token-file -d 'The file holding the daemon\'s token (with --connect)' -r -F
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand ls" -l color -d 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never' -r -f -a "auto\t'Color when the stream is a terminal, `NO_COLOR` is unset and `TERM` is not `dumb`'
always\t'Always color (even with `NO_COLOR`)'
never\t'Never color'"
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand ls" -l detail -d 'Include the files and connected peers'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand ls" -l json -d 'Write JSON records (one object per line), even on a terminal'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand ls" -l human -d 'Write human-readable output, even on a pipe'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand ls" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand list" -s c -l control -d 'The daemon\'s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)' -r -F
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand list" -l connect -d 'Talk to the daemon\'s TCP control address instead (bt-seed --control-tcp)' -r
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand list" -l token-file -d 'The file holding the daemon\'s token (with --connect)' -r -F
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand list" -l color -d 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never' -r -f -a "auto\t'Color when the stream is a terminal, `NO_COLOR` is unset and `TERM` is not `dumb`'
always\t'Always color (even with `NO_COLOR`)'
never\t'Never color'"
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand list" -l detail -d 'Include the files and connected peers'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand list" -l json -d 'Write JSON records (one object per line), even on a terminal'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand list" -l human -d 'Write human-readable output, even on a pipe'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand pause" -s c -l control -d 'The daemon\'s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)' -r -F
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand pause" -l connect -d 'Talk to the daemon\'s TCP control address instead (bt-seed --control-tcp)' -r
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand pause" -l token-file -d 'The file holding the daemon\'s token (with --connect)' -r -F
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand pause" -l color -d 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never' -r -f -a "auto\t'Color when the stream is a terminal, `NO_COLOR` is unset and `TERM` is not `dumb`'
always\t'Always color (even with `NO_COLOR`)'
never\t'Never color'"
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand pause" -l json -d 'Write JSON records (one object per line), even on a terminal'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand pause" -l human -d 'Write human-readable output, even on a pipe'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand pause" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand resume" -s c -l control -d 'The daemon\'s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)' -r -F
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand resume" -l connect -d 'Talk to the daemon\'s TCP control address instead (bt-seed --control-tcp)' -r
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand resume" -l token-file -d 'The file holding the daemon\'s token (with --connect)' -r -F
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand resume" -l color -d 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never' -r -f -a "auto\t'Color when the stream is a terminal, `NO_COLOR` is unset and `TERM` is not `dumb`'
always\t'Always color (even with `NO_COLOR`)'
never\t'Never color'"
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand resume" -l json -d 'Write JSON records (one object per line), even on a terminal'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand resume" -l human -d 'Write human-readable output, even on a pipe'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand resume" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand rm" -s c -l control -d 'The daemon\'s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)' -r -F
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand rm" -l connect -d 'Talk to the daemon\'s TCP control address instead (bt-seed --control-tcp)' -r
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand rm" -l token-file -d 'The file holding the daemon\'s token (with --connect)' -r -F
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand rm" -l color -d 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never' -r -f -a "auto\t'Color when the stream is a terminal, `NO_COLOR` is unset and `TERM` is not `dumb`'
always\t'Always color (even with `NO_COLOR`)'
never\t'Never color'"
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand rm" -l json -d 'Write JSON records (one object per line), even on a terminal'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand rm" -l human -d 'Write human-readable output, even on a pipe'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand rm" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand remove" -s c -l control -d 'The daemon\'s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)' -r -F
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand remove" -l connect -d 'Talk to the daemon\'s TCP control address instead (bt-seed --control-tcp)' -r
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand remove" -l token-file -d 'The file holding the daemon\'s token (with --connect)' -r -F
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand remove" -l color -d 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never' -r -f -a "auto\t'Color when the stream is a terminal, `NO_COLOR` is unset and `TERM` is not `dumb`'
always\t'Always color (even with `NO_COLOR`)'
never\t'Never color'"
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand remove" -l json -d 'Write JSON records (one object per line), even on a terminal'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand remove" -l human -d 'Write human-readable output, even on a pipe'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand remove" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand limit" -l down -d 'Download limit in bytes per second' -r
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand limit" -l up -d 'Upload limit in bytes per second' -r
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand limit" -s c -l control -d 'The daemon\'s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)' -r -F
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand limit" -l connect -d 'Talk to the daemon\'s TCP control address instead (bt-seed --control-tcp)' -r
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand limit" -l token-file -d 'The file holding the daemon\'s token (with --connect)' -r -F
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand limit" -l color -d 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never' -r -f -a "auto\t'Color when the stream is a terminal, `NO_COLOR` is unset and `TERM` is not `dumb`'
always\t'Always color (even with `NO_COLOR`)'
never\t'Never color'"
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand limit" -l json -d 'Write JSON records (one object per line), even on a terminal'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand limit" -l human -d 'Write human-readable output, even on a pipe'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand limit" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand watch" -l interval -d 'Seconds between two rounds' -r
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand watch" -s c -l control -d 'The daemon\'s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)' -r -F
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand watch" -l connect -d 'Talk to the daemon\'s TCP control address instead (bt-seed --control-tcp)' -r
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand watch" -l token-file -d 'The file holding the daemon\'s token (with --connect)' -r -F
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand watch" -l color -d 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never' -r -f -a "auto\t'Color when the stream is a terminal, `NO_COLOR` is unset and `TERM` is not `dumb`'
always\t'Always color (even with `NO_COLOR`)'
never\t'Never color'"
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand watch" -l json -d 'Write JSON records (one object per line), even on a terminal'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand watch" -l human -d 'Write human-readable output, even on a pipe'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand watch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand help; and not __fish_seen_subcommand_from add ls pause resume rm limit watch help" -f -a "add" -d 'Add a .torrent or a magnet link: fetch it into DIR, then seed it (--seed-only: serve what is there). A magnet\'s metadata comes from its x.pe peers, its trackers and --peer'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand help; and not __fish_seen_subcommand_from add ls pause resume rm limit watch help" -f -a "ls" -d 'List the torrents (one `status` record each)'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand help; and not __fish_seen_subcommand_from add ls pause resume rm limit watch help" -f -a "pause" -d 'Stop a torrent\'s transfers; it stays listed, its data stays on disk'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand help; and not __fish_seen_subcommand_from add ls pause resume rm limit watch help" -f -a "resume" -d 'Start a paused torrent again (what is on disk is verified, not fetched again)'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand help; and not __fish_seen_subcommand_from add ls pause resume rm limit watch help" -f -a "rm" -d 'Stop a torrent and forget it; its files stay on disk'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand help; and not __fish_seen_subcommand_from add ls pause resume rm limit watch help" -f -a "limit" -d 'Set the download and upload limits, global or of TORRENT (0: unlimited; K/M/G suffixes)'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand help; and not __fish_seen_subcommand_from add ls pause resume rm limit watch help" -f -a "watch" -d 'Stream every torrent\'s `status` each interval until interrupted'
complete -c bt-ctl -n "__fish_bt_ctl_using_subcommand help; and not __fish_seen_subcommand_from add ls pause resume rm limit watch help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
