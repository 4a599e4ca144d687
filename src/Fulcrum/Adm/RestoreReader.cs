namespace Fulcrum.Adm;

/// <summary>
/// ipvsadm's config_stream_read (config_stream.c) over the whole of stdin: tokens are runs of
/// anything but " \t\n\r" (at most 4096 chars, MAX_LINE_LENGTH), every token "ipvsadm" is dropped
/// (not only a leading one), and a line ends at '\n'. Its quirks are kept: '#' does not start a
/// comment (the check looks at the separator, never at the token), and a last line without '\n'
/// that ends in two or more blanks is lost (EOF inside a blank run destroys the line).
/// </summary>
internal static class RestoreReader
{
    private const int MaxLineLength = 4096;

    /// <summary>The next line's tokens (possibly none), or null at the end of input.</summary>
    public static List<string>? ReadLine(string s, ref int pos)
    {
        var tokens = new List<string>();
        while (true)
        {
            if (pos >= s.Length)
                return tokens.Count == 0 ? null : tokens; // fscanf hit EOF before a conversion

            if (IsSeparator(s[pos]))
            {
                // fscanf matched nothing: fgetc until '\n' or a token starts.
                while (true)
                {
                    if (pos >= s.Length)
                        return null;
                    char c = s[pos++];
                    if (c == '\n')
                        return tokens;
                    if (c is ' ' or '\t' or '\r')
                        continue;
                    pos--;
                    break;
                }
                continue;
            }

            int start = pos;
            while (pos < s.Length && !IsSeparator(s[pos]) && pos - start < MaxLineLength)
                pos++;
            string token = s[start..pos];
            char tail = '\0';
            if (pos < s.Length && IsSeparator(s[pos]))
                tail = s[pos++];
            if (token != "ipvsadm")
                tokens.Add(token);
            if (tail == '\n')
                return tokens;
        }
    }

    private static bool IsSeparator(char c) => c is ' ' or '\t' or '\n' or '\r';
}
