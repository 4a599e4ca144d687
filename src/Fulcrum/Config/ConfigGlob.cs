using System.Text;
using System.Text.RegularExpressions;

namespace Fulcrum.Config;

/// <summary>
/// glob(3) as keepalived calls it for include (GLOB_BRACE, sorted results): `*`, `?`, `[...]` within
/// one path segment, `{a,b}` alternatives, no leading-dot matches unless the pattern has the dot.
/// Directories are not configuration files and are left out.
/// </summary>
internal static class ConfigGlob
{
    public static bool HasWildcards(string pattern) => pattern.AsSpan().IndexOfAny("*?[{") >= 0;

    public static IReadOnlyList<string> Expand(string pattern, string baseDirectory)
    {
        var results = new List<string>();
        foreach (var alternative in ExpandBraces(pattern))
        {
            var rooted = Path.IsPathRooted(alternative) ? alternative : Path.Combine(baseDirectory, alternative);
            var full = Path.GetFullPath(rooted);
            if (!HasWildcards(alternative))
            {
                if (File.Exists(full) && !results.Contains(full))
                    results.Add(full);
                continue;
            }
            var matches = new List<string>();
            var root = Path.GetPathRoot(full) ?? "/";
            var segments = full[root.Length..].Split('/', StringSplitOptions.RemoveEmptyEntries);
            Walk(root, segments, 0, matches);
            matches.Sort(StringComparer.Ordinal);
            foreach (var m in matches)
            {
                if (!results.Contains(m))
                    results.Add(m);
            }
        }
        return results;
    }

    private static void Walk(string directory, string[] segments, int index, List<string> matches)
    {
        bool last = index == segments.Length - 1;
        var segment = segments[index];
        if (!HasWildcards(segment))
        {
            var next = Path.Combine(directory, segment);
            if (last)
            {
                if (File.Exists(next))
                    matches.Add(next);
            }
            else if (Directory.Exists(next))
                Walk(next, segments, index + 1, matches);
            return;
        }

        if (!Directory.Exists(directory))
            return;
        var regex = SegmentRegex(segment);
        var entries = last ? Directory.EnumerateFiles(directory) : Directory.EnumerateDirectories(directory);
        foreach (var entry in entries)
        {
            var name = Path.GetFileName(entry);
            if (name.StartsWith('.') && !segment.StartsWith('.'))
                continue;
            if (!regex.IsMatch(name))
                continue;
            if (last)
                matches.Add(entry);
            else
                Walk(entry, segments, index + 1, matches);
        }
    }

    private static Regex SegmentRegex(string segment)
    {
        var sb = new StringBuilder("^");
        for (int i = 0; i < segment.Length; i++)
        {
            char c = segment[i];
            switch (c)
            {
                case '*':
                    sb.Append(".*");
                    break;
                case '?':
                    sb.Append('.');
                    break;
                case '[':
                    int close = segment.IndexOf(']', i + 2);
                    if (close < 0)
                    {
                        sb.Append(@"\[");
                        break;
                    }
                    var set = segment[(i + 1)..close];
                    bool negate = set.StartsWith('!') || set.StartsWith('^');
                    if (negate)
                        set = set[1..];
                    sb.Append('[');
                    if (negate)
                        sb.Append('^');
                    sb.Append(set.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("[", @"\[", StringComparison.Ordinal));
                    sb.Append(']');
                    i = close;
                    break;
                default:
                    sb.Append(Regex.Escape(c.ToString()));
                    break;
            }
        }
        sb.Append('$');
        return new Regex(sb.ToString(), RegexOptions.CultureInvariant);
    }

    /// <summary>GLOB_BRACE: `a{b,c}d` is `abd` then `acd`; nested braces expand too.</summary>
    internal static List<string> ExpandBraces(string pattern)
    {
        int open = pattern.IndexOf('{');
        if (open < 0)
            return [pattern];
        int depth = 0;
        int close = -1;
        var commas = new List<int>();
        for (int i = open; i < pattern.Length; i++)
        {
            if (pattern[i] == '{')
                depth++;
            else if (pattern[i] == '}')
            {
                depth--;
                if (depth == 0)
                {
                    close = i;
                    break;
                }
            }
            else if (pattern[i] == ',' && depth == 1)
                commas.Add(i);
        }
        if (close < 0)
            return [pattern];
        var prefix = pattern[..open];
        var suffix = pattern[(close + 1)..];
        var result = new List<string>();
        int start = open + 1;
        commas.Add(close);
        foreach (var end in commas)
        {
            foreach (var expanded in ExpandBraces(prefix + pattern[start..end] + suffix))
                result.Add(expanded);
            start = end + 1;
        }
        return result;
    }
}
