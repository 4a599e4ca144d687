using System.Text;

namespace Fulcrum.Config;

internal enum TokenKind
{
    Word,
    OpenBrace,
    CloseBrace,
    EndOfLine,
    EndOfFile,
}

/// <summary>One word or brace with its position. Quoted words lose their quotes (keepalived's alloc_strvec_r).</summary>
internal readonly record struct ConfigToken(TokenKind Kind, string Text, SourceLocation Location, bool Quoted = false)
{
    public override string ToString() => Kind == TokenKind.Word ? Text : Kind.ToString();
}

/// <summary>
/// Turns keepalived.conf text into tokens, following lib/parser.c's line model: comments `#`/`!`
/// outside quotes (escapable as `\#`, `\!`), a trailing `\` continues the line, braces split a line
/// wherever they are, `include GLOB` splices the matched files in place (relative paths resolve from
/// the including file's directory, as keepalived's chdir does), `$NAME=value` defines a parameter and
/// `$NAME` / `${NAME}` substitute it. Every statement ends with an EndOfLine token.
/// </summary>
internal sealed class ConfigLexer
{
    // keepalived has no limit beyond file descriptors; a bound catches include cycles through symlinks.
    private const int MaxIncludeDepth = 32;

    private static readonly string[] IncludeKeywords = ["include", "includer", "includem", "includew", "includeb", "includea"];

    private readonly DiagnosticBag _diagnostics;
    private readonly List<ConfigToken> _tokens = [];
    private readonly Dictionary<string, string> _definitions = new(StringComparer.Ordinal);
    private readonly List<string> _includeStack = [];

    private ConfigLexer(DiagnosticBag diagnostics) => _diagnostics = diagnostics;

    public static List<ConfigToken> Tokenize(string text, string fileName, DiagnosticBag diagnostics)
    {
        var lexer = new ConfigLexer(diagnostics);
        lexer._includeStack.Add(SafeFullPath(fileName));
        lexer.LexFile(text, fileName, DirectoryOf(fileName));
        var end = lexer._tokens.Count > 0 ? lexer._tokens[^1].Location : new SourceLocation(fileName, 1, 1);
        lexer._tokens.Add(new ConfigToken(TokenKind.EndOfFile, "", end));
        return lexer._tokens;
    }

    private static string DirectoryOf(string fileName)
    {
        try
        {
            return Path.GetDirectoryName(Path.GetFullPath(fileName)) ?? Directory.GetCurrentDirectory();
        }
        catch (Exception)
        {
            return Directory.GetCurrentDirectory();
        }
    }

    private static string SafeFullPath(string fileName)
    {
        try
        {
            return Path.GetFullPath(fileName);
        }
        catch (Exception)
        {
            return fileName;
        }
    }

    private void LexFile(string text, string fileName, string directory)
    {
        var physical = text.Split('\n');
        var line = new LineBuffer();
        for (int i = 0; i < physical.Length; i++)
        {
            var raw = physical[i];
            if (raw.EndsWith('\r'))
                raw = raw[..^1];
            AppendDecommented(line, raw, fileName, i + 1);
            line.TrimEnd();
            // parser.c: a trailing backslash joins the next physical line.
            if (line.Length > 0 && line.CharAt(line.Length - 1) == '\\' && i + 1 < physical.Length)
            {
                line.RemoveLast();
                continue;
            }
            ProcessLogicalLine(line, fileName, directory);
            line = new LineBuffer();
        }
    }

    /// <summary>Appends the line without its comment (keepalived's decomment).</summary>
    private static void AppendDecommented(LineBuffer buffer, string raw, string fileName, int lineNo)
    {
        bool inQuote = false;
        for (int c = 0; c < raw.Length; c++)
        {
            char ch = raw[c];
            if (ch == '"')
                inQuote = !inQuote;
            else if (!inQuote && ch == '\\' && c + 1 < raw.Length && (raw[c + 1] == '#' || raw[c + 1] == '!'))
            {
                buffer.Append(raw[c + 1], new SourceLocation(fileName, lineNo, c + 2));
                c++;
                continue;
            }
            else if (!inQuote && (ch == '#' || ch == '!'))
                break;
            buffer.Append(ch, new SourceLocation(fileName, lineNo, c + 1));
        }
    }

    private void ProcessLogicalLine(LineBuffer line, string fileName, string directory)
    {
        line.TrimStart();
        if (line.Length == 0)
            return;

        // `@ID line` is only for the keepalived instance started with `-i ID`; we run as no id,
        // so such lines drop out and `@^ID line` (not ID) lines stay, as keepalived does without -i.
        if (line.CharAt(0) == '@')
        {
            int sp = line.IndexOfWhitespace();
            if (sp < 0)
                return;
            bool negated = line.Length > 1 && line.CharAt(1) == '^';
            if (!negated)
                return;
            line = line.Slice(sp);
            line.TrimStart();
            if (line.Length == 0)
                return;
        }

        if (line.CharAt(0) == '$' && TryDefine(line))
            return;

        if (line.CharAt(0) == '~')
        {
            _diagnostics.Warning(line.LocationAt(0), $"unsupported keyword '{FirstWord(line)}' skipped");
            return;
        }

        if (_definitions.Count > 0 && line.Contains('$'))
            line = Substitute(line);

        int firstLen = line.IndexOfWhitespace();
        string first = firstLen < 0 ? line.ToString() : line.ToString()[..firstLen];
        if (Array.IndexOf(IncludeKeywords, first) >= 0)
        {
            Include(line, firstLen, directory);
            return;
        }

        TokenizeLine(line);
    }

    private static string FirstWord(LineBuffer line)
    {
        int sp = line.IndexOfWhitespace();
        var s = line.ToString();
        return sp < 0 ? s : s[..sp];
    }

    /// <summary>`$NAME=value` (parser.c check_definition): the name is letters, digits and '_'.</summary>
    private bool TryDefine(LineBuffer line)
    {
        var s = line.ToString();
        int i = 1;
        while (i < s.Length && IsNameChar(s[i]))
            i++;
        if (i == 1 || i >= s.Length || s[i] != '=')
            return false;
        _definitions[s[1..i]] = s[(i + 1)..].Trim();
        return true;
    }

    private static bool IsNameChar(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';

    private LineBuffer Substitute(LineBuffer line)
    {
        // Definitions may refer to others; keepalived re-scans after each replacement. Bound the passes.
        for (int pass = 0; pass < 10; pass++)
        {
            var result = new LineBuffer();
            bool changed = false;
            var s = line.ToString();
            bool inQuote = false;
            for (int i = 0; i < s.Length; i++)
            {
                if (s[i] == '"')
                    inQuote = !inQuote;
                if (s[i] == '$' && !inQuote)
                {
                    int start = i + 1;
                    bool braced = start < s.Length && s[start] == '{';
                    int nameStart = braced ? start + 1 : start;
                    int end = nameStart;
                    while (end < s.Length && IsNameChar(s[end]))
                        end++;
                    if (end > nameStart && (!braced || (end < s.Length && s[end] == '}')))
                    {
                        string name = s[nameStart..end];
                        if (_definitions.TryGetValue(name, out var value))
                        {
                            var at = line.LocationAt(i);
                            foreach (char ch in value)
                                result.Append(ch, at);
                            i = braced ? end : end - 1;
                            changed = true;
                            continue;
                        }
                        if (pass == 0)
                            _diagnostics.Warning(line.LocationAt(i), $"undefined parameter '${name}' left as is");
                    }
                }
                result.Append(s[i], line.LocationAt(i));
            }
            line = result;
            if (!changed || !line.Contains('$'))
                break;
        }
        return line;
    }

    private void Include(LineBuffer line, int firstLen, string directory)
    {
        var at = line.LocationAt(0);
        var rest = line.Slice(firstLen < 0 ? line.Length : firstLen);
        rest.TrimStart();
        var pattern = rest.ToString();
        if (pattern.Length >= 2 && pattern[0] == '"' && pattern[^1] == '"')
            pattern = pattern[1..^1];
        if (pattern.Length == 0)
        {
            _diagnostics.Error(at, "include needs a file name");
            return;
        }
        var patternAt = rest.Length > 0 ? rest.LocationAt(0) : at;

        if (_includeStack.Count >= MaxIncludeDepth)
        {
            _diagnostics.Error(patternAt, $"include nesting deeper than {MaxIncludeDepth} at '{pattern}'");
            return;
        }

        IReadOnlyList<string> files;
        try
        {
            files = ConfigGlob.Expand(pattern, directory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            _diagnostics.Error(patternAt, $"cannot read include '{pattern}': {ex.Message}");
            return;
        }

        if (files.Count == 0)
        {
            // keepalived (open_and_check_glob): a wildcard matching nothing is fine (a conf.d may be
            // empty); a named file that is missing is a config error.
            if (ConfigGlob.HasWildcards(pattern))
                _diagnostics.Warning(patternAt, $"No config files matched '{pattern}'.");
            else
                _diagnostics.Error(patternAt, $"include file '{pattern}' not found");
            return;
        }

        foreach (var file in files)
        {
            var full = SafeFullPath(file);
            if (_includeStack.Contains(full))
            {
                _diagnostics.Error(patternAt, $"include loop: '{file}' is already being read");
                continue;
            }
            string text;
            try
            {
                text = File.ReadAllText(file);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                _diagnostics.Error(patternAt, $"cannot read include file '{file}': {ex.Message}");
                continue;
            }
            _includeStack.Add(full);
            LexFile(text, file, DirectoryOf(file));
            _includeStack.RemoveAt(_includeStack.Count - 1);
        }
    }

    private void TokenizeLine(LineBuffer line)
    {
        var s = line.ToString();
        int i = 0;
        bool any = false;
        while (i < s.Length)
        {
            char c = s[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
                continue;
            }
            if (c == '{' || c == '}')
            {
                // parser.c read_line: a brace splits the line. Words before `{` are the block's
                // keyword line (no end-of-line between them); words before `}` end a statement.
                if (any && c == '}')
                    EndLine(line.LocationAt(i));
                _tokens.Add(new ConfigToken(c == '{' ? TokenKind.OpenBrace : TokenKind.CloseBrace, c.ToString(), line.LocationAt(i)));
                any = false;
                i++;
                continue;
            }

            int start = i;
            var word = new StringBuilder();
            bool quoted = false;
            while (i < s.Length && !char.IsWhiteSpace(s[i]) && s[i] != '{' && s[i] != '}')
            {
                if (s[i] == '"')
                {
                    int close = s.IndexOf('"', i + 1);
                    if (close < 0)
                    {
                        _diagnostics.Error(line.LocationAt(i), $"Unmatched quote: '{s[i..]}'");
                        word.Append(s, i + 1, s.Length - i - 1);
                        i = s.Length;
                        break;
                    }
                    word.Append(s, i + 1, close - i - 1);
                    quoted = true;
                    i = close + 1;
                    continue;
                }
                word.Append(s[i]);
                i++;
            }
            _tokens.Add(new ConfigToken(TokenKind.Word, word.ToString(), line.LocationAt(start), quoted));
            any = true;
        }
        if (any)
            EndLine(line.LocationAt(s.Length - 1));
    }

    private void EndLine(SourceLocation at) => _tokens.Add(new ConfigToken(TokenKind.EndOfLine, "", at));

    /// <summary>A logical line: its characters and, for each, where it came from.</summary>
    private sealed class LineBuffer
    {
        private readonly StringBuilder _chars = new();
        private readonly List<SourceLocation> _where = [];

        public int Length => _chars.Length;

        public char CharAt(int i) => _chars[i];

        public SourceLocation LocationAt(int i) => _where.Count == 0 ? default : _where[Math.Clamp(i, 0, _where.Count - 1)];

        public void Append(char c, SourceLocation at)
        {
            _chars.Append(c);
            _where.Add(at);
        }

        public void RemoveLast()
        {
            _chars.Length--;
            _where.RemoveAt(_where.Count - 1);
        }

        public void TrimEnd()
        {
            while (_chars.Length > 0 && char.IsWhiteSpace(_chars[^1]))
                RemoveLast();
        }

        public void TrimStart()
        {
            int n = 0;
            while (n < _chars.Length && char.IsWhiteSpace(_chars[n]))
                n++;
            _chars.Remove(0, n);
            _where.RemoveRange(0, n);
        }

        public bool Contains(char c)
        {
            for (int i = 0; i < _chars.Length; i++)
            {
                if (_chars[i] == c)
                    return true;
            }
            return false;
        }

        public int IndexOfWhitespace()
        {
            for (int i = 0; i < _chars.Length; i++)
            {
                if (char.IsWhiteSpace(_chars[i]))
                    return i;
            }
            return -1;
        }

        public LineBuffer Slice(int start)
        {
            var b = new LineBuffer();
            for (int i = start; i < _chars.Length; i++)
                b.Append(_chars[i], _where[i]);
            return b;
        }

        public override string ToString() => _chars.ToString();
    }
}
