namespace Fulcrum.Adm;

/// <summary>One row of ipvsadm's popt option table (ipvsadm.c parse_options).</summary>
internal sealed record PoptOption(string? LongName, char ShortName, bool TakesArg, bool Optional, int Val);

/// <summary>
/// The subset of popt's poptGetNextOpt that ipvsadm's table exercises (popt.c, 1.16-1.19): words not
/// starting with '-' (and a lone "-") are leftovers, "--" ends options, "--name[=value]" is a long
/// option, "-abc" bundles short options (ipvsadm has no POPT_ARGFLAG_ONEDASH entries, so a single
/// dash never names a long option), a string option takes the rest of its word (one leading '=' is
/// skipped) or the next word whatever it starts with, and an optional argument (-p) is taken only
/// when the next word does not start with '-'.
/// </summary>
internal sealed class PoptParser
{
    public const int ErrorNoArg = -10;
    public const int ErrorBadOpt = -11;
    public const int ErrorUnwantedArg = -12;

    private readonly IReadOnlyList<string> _argv;
    private readonly PoptOption[] _table;
    private readonly List<string> _leftovers = [];
    private int _next = 1;
    private int _leftoverRead;
    private string? _nextCharArg;
    private bool _restLeftover;

    public PoptParser(IReadOnlyList<string> argv, PoptOption[] table)
    {
        _argv = argv;
        _table = table;
    }

    /// <summary>The argument of the last string option, null when an optional one was absent.</summary>
    public string? OptArg { get; private set; }

    /// <summary>poptBadOption(POPT_BADOPTION_NOALIAS): the whole argv word last consumed.</summary>
    public string BadOption => _argv[_next - 1];

    /// <summary>poptStrerror for the codes this table can produce.</summary>
    public static string StrError(int code) => code switch
    {
        ErrorNoArg => "missing argument",
        ErrorUnwantedArg => "option does not take an argument",
        ErrorBadOpt => "unknown option",
        _ => "unknown error",
    };

    /// <summary>poptGetArg: the next leftover word, or null.</summary>
    public string? GetArg() => _leftoverRead < _leftovers.Count ? _leftovers[_leftoverRead++] : null;

    /// <summary>Returns the option's val, -1 when argv is exhausted, or a negative popt error.</summary>
    public int GetNextOpt()
    {
        while (true)
        {
            if (_nextCharArg is null && _next == _argv.Count)
                return -1;

            PoptOption? opt = null;
            string? longArg = null;
            if (_nextCharArg is null)
            {
                string word = _argv[_next++];
                if (_restLeftover || word.Length < 2 || word[0] != '-')
                {
                    _leftovers.Add(word);
                    continue;
                }

                if (word == "--")
                {
                    _restLeftover = true;
                    continue;
                }

                if (word[1] == '-')
                {
                    int eq = word.IndexOf('=', 2);
                    string name = eq < 0 ? word[2..] : word[2..eq];
                    if (eq >= 0)
                        longArg = word[(eq + 1)..];
                    opt = FindLong(name);
                    if (opt is null)
                        return ErrorBadOpt;
                }
                else
                {
                    _nextCharArg = word[1..];
                }
            }

            if (_nextCharArg is not null)
            {
                string chars = _nextCharArg;
                _nextCharArg = null;
                opt = FindShort(chars[0]);
                if (opt is null)
                    return ErrorBadOpt;
                if (chars.Length > 1)
                    _nextCharArg = chars[1..];
            }

            if (!opt!.TakesArg)
            {
                if (longArg is not null || (_nextCharArg is not null && _nextCharArg[0] == '='))
                    return ErrorUnwantedArg;
            }
            else if (longArg is not null)
            {
                OptArg = longArg;
            }
            else if (_nextCharArg is not null)
            {
                OptArg = _nextCharArg[0] == '=' ? _nextCharArg[1..] : _nextCharArg;
                _nextCharArg = null;
            }
            else if (_next == _argv.Count)
            {
                if (!opt.Optional)
                    return ErrorNoArg;
                OptArg = null;
            }
            else if (opt.Optional && _argv[_next].Length > 0 && _argv[_next][0] == '-')
            {
                OptArg = null;
            }
            else
            {
                OptArg = _argv[_next++];
            }

            return opt.Val;
        }
    }

    private PoptOption? FindLong(string name)
    {
        foreach (PoptOption o in _table)
        {
            if (o.LongName == name)
                return o;
        }
        return null;
    }

    private PoptOption? FindShort(char c)
    {
        foreach (PoptOption o in _table)
        {
            if (o.ShortName != '\0' && o.ShortName == c)
                return o;
        }
        return null;
    }
}
