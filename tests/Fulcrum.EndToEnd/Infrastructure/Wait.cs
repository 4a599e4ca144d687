namespace Fulcrum.EndToEnd.Infrastructure;

/// <summary>Polling for a condition that a daemon, a kernel or a peer brings about in its own time.</summary>
public static class Wait
{
    /// <summary>Polls <paramref name="condition"/> every 100 ms; fails the test naming <paramref name="what"/> after <paramref name="seconds"/>.</summary>
    public static void For(Func<bool> condition, string what, int seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out after {seconds} s waiting for {what}");
            Thread.Sleep(100);
        }
    }
}
