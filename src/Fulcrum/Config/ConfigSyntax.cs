namespace Fulcrum.Config;

/// <summary>
/// One statement: a keyword, its arguments on the same line, and the block that follows it if any
/// (the `{` may be at the end of the line or open the next line, as keepalived allows).
/// </summary>
internal sealed record ConfigNode(ConfigToken Keyword, IReadOnlyList<ConfigToken> Args, IReadOnlyList<ConfigNode>? Children)
{
    public string Name => Keyword.Text;
    public SourceLocation Location => Keyword.Location;
    public bool HasBlock => Children is not null;

    /// <summary>The keyword and its arguments as words: a value-block entry such as `10.0.0.1/24 dev eth0`.</summary>
    public IReadOnlyList<ConfigToken> Words
    {
        get
        {
            var list = new List<ConfigToken>(Args.Count + 1) { Keyword };
            list.AddRange(Args);
            return list;
        }
    }
}

/// <summary>Builds the statement tree from tokens; reports brace errors with positions.</summary>
internal sealed class ConfigTreeParser
{
    private readonly List<ConfigToken> _tokens;
    private readonly DiagnosticBag _diagnostics;
    private int _pos;

    private ConfigTreeParser(List<ConfigToken> tokens, DiagnosticBag diagnostics)
    {
        _tokens = tokens;
        _diagnostics = diagnostics;
    }

    public static IReadOnlyList<ConfigNode> Parse(List<ConfigToken> tokens, DiagnosticBag diagnostics) =>
        new ConfigTreeParser(tokens, diagnostics).ParseBlock(null);

    private ConfigToken Peek => _tokens[_pos];

    private void SkipEndOfLines()
    {
        while (Peek.Kind == TokenKind.EndOfLine)
            _pos++;
    }

    private List<ConfigNode> ParseBlock(ConfigToken? open)
    {
        var nodes = new List<ConfigNode>();
        while (true)
        {
            SkipEndOfLines();
            var t = Peek;
            switch (t.Kind)
            {
                case TokenKind.EndOfFile:
                    if (open is { } o)
                        _diagnostics.Error(o.Location, "'{' has no matching '}'");
                    return nodes;
                case TokenKind.CloseBrace:
                    _pos++;
                    if (open is null)
                    {
                        // parser.c: "Extra '}' found"
                        _diagnostics.Error(t.Location, "Extra '}' found");
                        continue;
                    }
                    return nodes;
                case TokenKind.OpenBrace:
                    // parser.c: "Unexpected '{' - ignoring"; its content is skipped with it.
                    _diagnostics.Error(t.Location, "Unexpected '{' - block skipped");
                    _pos++;
                    ParseBlock(t);
                    continue;
                default:
                    nodes.Add(ParseStatement());
                    continue;
            }
        }
    }

    private ConfigNode ParseStatement()
    {
        var keyword = Peek;
        _pos++;
        var args = new List<ConfigToken>();
        while (Peek.Kind == TokenKind.Word)
        {
            args.Add(Peek);
            _pos++;
        }

        if (Peek.Kind == TokenKind.EndOfLine)
        {
            // The block's `{` may open the next line (parser.c 3198-3219).
            int save = _pos;
            SkipEndOfLines();
            if (Peek.Kind != TokenKind.OpenBrace)
                _pos = save;
        }

        if (Peek.Kind == TokenKind.OpenBrace)
        {
            var open = Peek;
            _pos++;
            var children = ParseBlock(open);
            return new ConfigNode(keyword, args, children);
        }
        return new ConfigNode(keyword, args, null);
    }
}
