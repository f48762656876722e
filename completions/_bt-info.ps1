
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'bt-info' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'bt-info'
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
        'bt-info' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'Color human output and error messages: auto (a terminal, unless NO_COLOR is set or TERM=dumb), always or never')
            [CompletionResult]::new('--pieces', '--pieces', [CompletionResultType]::ParameterName, 'Also list the v1 piece hashes (hex)')
            [CompletionResult]::new('--bytes', '--bytes', [CompletionResultType]::ParameterName, 'Human view: exact byte counts instead of 1.2 GiB')
            [CompletionResult]::new('--pad', '--pad', [CompletionResultType]::ParameterName, 'Human view: also list pad files (BEP 47)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Write JSON records (one object per line), even on a terminal')
            [CompletionResult]::new('--human', '--human', [CompletionResultType]::ParameterName, 'Write human-readable output, even on a pipe')
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
