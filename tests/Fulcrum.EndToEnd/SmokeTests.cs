namespace Fulcrum.EndToEnd;

public class SmokeTests
{
    [Fact]
    public void Build_Works() => Assert.True(true);
}
