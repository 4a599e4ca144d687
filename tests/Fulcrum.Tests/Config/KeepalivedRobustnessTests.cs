using Fulcrum.Config;

namespace Fulcrum.Tests.Config;

public class KeepalivedRobustnessTests
{
    public static TheoryData<string> Samples => new() { "dr-master.conf", "dr-backup.conf", "nat-services.conf", "sync-group.conf" };

    [Theory]
    [MemberData(nameof(Samples))]
    public void Parse_EveryTruncation_NeverThrowsAndPositionsAreValid(string sample)
    {
        var text = File.ReadAllText(KeepalivedSampleTests.Golden(sample));
        var lineCount = text.Split('\n').Length;
        for (int cut = 0; cut <= text.Length; cut += 7)
        {
            var r = KeepalivedConfig.Parse(text[..cut], "t.conf");
            foreach (var d in r.Diagnostics)
            {
                Assert.Equal("t.conf", d.File);
                Assert.InRange(d.Line, 1, lineCount);
                Assert.True(d.Column >= 1, d.ToString());
                Assert.False(string.IsNullOrWhiteSpace(d.Message));
            }
        }
    }

    [Fact]
    public void Parse_Garbage_NeverThrows()
    {
        var random = new Random(1234);
        const string Alphabet = "{}\"#!\\$@~ \t\nabcxyz019./-_:";
        for (int i = 0; i < 300; i++)
        {
            var chars = new char[random.Next(0, 200)];
            for (int k = 0; k < chars.Length; k++)
                chars[k] = Alphabet[random.Next(Alphabet.Length)];
            var r = KeepalivedConfig.Parse(new string(chars), "g.conf");
            Assert.NotNull(r.Configuration);
        }
    }

    [Fact]
    public void Parse_EmptyDefinition_LeavesNoToken()
    {
        var r = KeepalivedConfig.Parse("$EMPTY=\n$EMPTY\nglobal_defs {\n router_id $EMPTY X\n}\n", "e.conf");
        Assert.True(r.Success, string.Join("\n", r.Diagnostics));
        Assert.Equal("X", r.Configuration.Global.RouterId);
    }
}
