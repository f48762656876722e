complete -c bt-top -s c -l control -d 'The daemon\'s control socket (default: $XDG_RUNTIME_DIR/bt-seed.sock, else /tmp/bt-UID/bt-seed.sock)' -r -F
complete -c bt-top -l connect -d 'Attach to the daemon\'s TCP control address instead (bt-seed --control-tcp)' -r
complete -c bt-top -l token-file -d 'The file holding the daemon\'s token (with --connect)' -r -F
complete -c bt-top -l color -d 'Color error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never' -r -f -a "auto\t'Color when the stream is a terminal, `NO_COLOR` is unset and `TERM` is not `dumb`'
always\t'Always color (even with `NO_COLOR`)'
never\t'Never color'"
complete -c bt-top -s h -l help -d 'Print help (see more with \'--help\')'
complete -c bt-top -s V -l version -d 'Print version'
