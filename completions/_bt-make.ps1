
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'bt-make' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'bt-make'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'bt-make' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Where to write the torrent (default: `<NAME>.torrent` here; `-` for stdout, then no summary)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Where to write the torrent (default: `<NAME>.torrent` here; `-` for stdout, then no summary)')
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'Tracker URL; each use is one tier, comma-separated URLs in one use share a tier')
            [CompletionResult]::new('--announce', '--announce', [CompletionResultType]::ParameterName, 'Tracker URL; each use is one tier, comma-separated URLs in one use share a tier')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Web seed URL (BEP 19); repeatable, or comma-separated')
            [CompletionResult]::new('--web-seed', '--web-seed', [CompletionResultType]::ParameterName, 'Web seed URL (BEP 19); repeatable, or comma-separated')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Source tag inside the info dictionary (changes the info hash)')
            [CompletionResult]::new('--source', '--source', [CompletionResultType]::ParameterName, 'Source tag inside the info dictionary (changes the info hash)')
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Comment')
            [CompletionResult]::new('--comment', '--comment', [CompletionResultType]::ParameterName, 'Comment')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Torrent name (default: the file or directory name)')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Torrent name (default: the file or directory name)')
            [CompletionResult]::new('-l', '-l', [CompletionResultType]::ParameterName, 'Piece length: bytes or 256K, 1M, 4MiB; a power of two from 16 KiB to 64 MiB. A piece length larger than the data (one piece) is taken with a warning')
            [CompletionResult]::new('--piece-length', '--piece-length', [CompletionResultType]::ParameterName, 'Piece length: bytes or 256K, 1M, 4MiB; a power of two from 16 KiB to 64 MiB. A piece length larger than the data (one piece) is taken with a warning')
            [CompletionResult]::new('--created-by', '--created-by', [CompletionResultType]::ParameterName, 'The `created by` field (default: `bt/<version>`)')
            [CompletionResult]::new('--exclude', '--exclude', [CompletionResultType]::ParameterName, 'Leave out files and directories that GLOB matches; repeatable. Globs are gitignore-like: `*` and `?` never match `/`; `**` as a path component matches any number of directories (`**/*.bin`, `cache/**`); a glob without `/` matches a name at any depth, one with a `/` matches the path from the input''s root; a trailing `/` matches directories only; `[a-z]` sets, `\*` a literal `*`. A file given as PATH is checked by its name too')
            [CompletionResult]::new('--include', '--include', [CompletionResultType]::ParameterName, 'Take only the files that GLOB matches (same rules as --exclude, which wins); repeatable')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Worker threads for hashing (default: one per core)')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Worker threads for hashing (default: one per core)')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Set the private flag (BEP 27)')
            [CompletionResult]::new('--private', '--private', [CompletionResultType]::ParameterName, 'Set the private flag (BEP 27)')
            [CompletionResult]::new('--no-creation-date', '--no-creation-date', [CompletionResultType]::ParameterName, 'Write no creation date')
            [CompletionResult]::new('--no-created-by', '--no-created-by', [CompletionResultType]::ParameterName, 'Write no `created by` field')
            [CompletionResult]::new('--include-hidden', '--include-hidden', [CompletionResultType]::ParameterName, 'Include files and directories whose name starts with a dot')
            [CompletionResult]::new('--follow-symlinks', '--follow-symlinks', [CompletionResultType]::ParameterName, 'Follow symlinks (loops are skipped)')
            [CompletionResult]::new('--v2', '--v2', [CompletionResultType]::ParameterName, 'Make a BitTorrent v2-only torrent (BEP 52: per-file SHA-256 merkle trees, files on piece boundaries). Transmission, aria2 and rqbit cannot download these')
            [CompletionResult]::new('--hybrid', '--hybrid', [CompletionResultType]::ParameterName, 'Make a hybrid v1 + v2 torrent (BEP 52 with BEP 47 pad files): every client can use it')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Overwrite an existing output file')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Overwrite an existing output file')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Write JSON records (one object per line), even on a terminal')
            [CompletionResult]::new('--human', '--human', [CompletionResultType]::ParameterName, 'Write human-readable output, even on a pipe')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress bars and no diagnostics on stderr except errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress bars and no diagnostics on stderr except errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
