using Fulcrum.Config;

namespace Fulcrum.Tests.Config;

public class ConfigLexerTests
{
    private static List<ConfigToken> Lex(string text, out DiagnosticBag bag)
    {
        bag = new DiagnosticBag();
        return ConfigLexer.Tokenize(text, "l.conf", bag);
    }

    private static string Render(List<ConfigToken> tokens)
    {
        var parts = new List<string>();
        foreach (var t in tokens)
        {
            parts.Add(t.Kind switch
            {
                TokenKind.Word => $"{t.Text}@{t.Location.Line}:{t.Location.Column}",
                TokenKind.OpenBrace => $"{{@{t.Location.Line}:{t.Location.Column}",
                TokenKind.CloseBrace => $"}}@{t.Location.Line}:{t.Location.Column}",
                TokenKind.EndOfLine => ";",
                _ => "EOF",
            });
        }
        return string.Join(" ", parts);
    }

    [Fact]
    public void Tokenize_WordsAndBraces_HavePositions()
    {
        var tokens = Lex("vrrp_instance VI_1 {\n  state MASTER\n}\n", out var bag);
        Assert.Empty(bag.Items);
        Assert.Equal("vrrp_instance@1:1 VI_1@1:15 {@1:20 state@2:3 MASTER@2:9 ; }@3:1 EOF", Render(tokens));
    }

    [Fact]
    public void Tokenize_BracesWithoutSpaces_SplitTheLine()
    {
        var tokens = Lex("a b{c d}e\n", out _);
        Assert.Equal("a@1:1 b@1:3 {@1:4 c@1:5 d@1:7 ; }@1:8 e@1:9 ; EOF", Render(tokens));
    }

    [Fact]
    public void Tokenize_BothCommentKinds_EndTheLine()
    {
        var tokens = Lex("# full line\n! also\nrouter_id X # trailing\npriority 5! bang\n", out _);
        Assert.Equal("router_id@3:1 X@3:11 ; priority@4:1 5@4:10 ; EOF", Render(tokens));
    }

    [Fact]
    public void Tokenize_CommentCharsInsideQuotesOrEscaped_AreKept()
    {
        var tokens = Lex("script \"/bin/check #1 !x\"\nauth_pass a\\#b\\!c\n", out _);
        Assert.Equal("/bin/check #1 !x", tokens[1].Text);
        Assert.True(tokens[1].Quoted);
        Assert.Equal(new SourceLocation("l.conf", 1, 8), tokens[1].Location);
        Assert.Equal("a#b!c", tokens[4].Text);
    }

    [Fact]
    public void Tokenize_TrailingBackslash_ContinuesLine()
    {
        var tokens = Lex("notify_master /bin/x \\\n   arg2\nnext\n", out _);
        Assert.Equal("notify_master@1:1 /bin/x@1:15 arg2@2:4 ; next@3:1 ; EOF", Render(tokens));
    }

    [Fact]
    public void Tokenize_CrLfLines_AreHandled()
    {
        var tokens = Lex("a 1\r\nb 2\r\n", out _);
        Assert.Equal("a@1:1 1@1:3 ; b@2:1 2@2:3 ; EOF", Render(tokens));
    }

    [Fact]
    public void Tokenize_Definitions_SubstitutedAtReferencePosition()
    {
        var tokens = Lex("$VIP=198.51.100.100 dev eth0\n$PORT=80\nvirtual_ipaddress { $VIP }\nport ${PORT}x\n", out var bag);
        Assert.Empty(bag.Items);
        Assert.Equal("virtual_ipaddress@3:1 {@3:19 198.51.100.100@3:21 dev@3:21 eth0@3:21 ; }@3:26 port@4:1 80x@4:6 ; EOF", Render(tokens));
    }

    [Fact]
    public void Tokenize_UndefinedParameter_WarnedAndLeftAsIs()
    {
        var tokens = Lex("$A=1\nx $B\n", out var bag);
        Assert.Equal("$B", tokens[1].Text);
        var d = Assert.Single(bag.Items);
        Assert.Equal("l.conf:2:3: warning: undefined parameter '$B' left as is", d.ToString());
    }

    [Fact]
    public void Tokenize_ConditionalLines_KeptOnlyForNegatedIds()
    {
        // Without `-i ID`, keepalived drops `@ID` lines and keeps `@^ID` lines.
        var tokens = Lex("@lb1 router_id LB1\n@^lb1 router_id OTHER\n", out _);
        Assert.Equal("router_id@2:7 OTHER@2:17 ; EOF", Render(tokens));
    }

    [Fact]
    public void Tokenize_SeqLine_WarnedUnsupported()
    {
        var tokens = Lex("~SEQ(i,1,3)\n", out var bag);
        Assert.Equal("EOF", Render(tokens));
        Assert.Equal("l.conf:1:1: warning: unsupported keyword '~SEQ(i,1,3)' skipped", Assert.Single(bag.Items).ToString());
    }

    [Fact]
    public void ExpandBraces_ProducesAlternativesInOrder()
    {
        Assert.Equal(["a1x", "a2x", "a3yx", "a3zx"], ConfigGlob.ExpandBraces("a{1,2,3{y,z}}x"));
    }

    [Fact]
    public void Glob_MatchesSortedAndSkipsDotFilesAndDirectories()
    {
        var dir = Directory.CreateTempSubdirectory("fulcrum-glob-");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "b.conf"), "");
            File.WriteAllText(Path.Combine(dir.FullName, "a.conf"), "");
            File.WriteAllText(Path.Combine(dir.FullName, ".hidden.conf"), "");
            File.WriteAllText(Path.Combine(dir.FullName, "c.txt"), "");
            Directory.CreateDirectory(Path.Combine(dir.FullName, "d.conf"));
            var files = ConfigGlob.Expand("*.conf", dir.FullName);
            Assert.Equal([Path.Combine(dir.FullName, "a.conf"), Path.Combine(dir.FullName, "b.conf")], files);
            Assert.Equal([Path.Combine(dir.FullName, "c.txt")], ConfigGlob.Expand("[c-d].tx?", dir.FullName));
            Assert.Equal([Path.Combine(dir.FullName, "b.conf"), Path.Combine(dir.FullName, "c.txt")], ConfigGlob.Expand("{b.conf,c.txt}", dir.FullName));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
