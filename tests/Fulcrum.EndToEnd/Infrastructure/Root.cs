namespace Fulcrum.EndToEnd.Infrastructure;

public static class Root
{
    /// <summary>
    /// End-to-end tests create network namespaces: without root they fail here, loudly, rather than
    /// pass without testing anything.
    /// </summary>
    public static void Require()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            throw new InvalidOperationException(
                "end-to-end tests create network namespaces and need root: run them with sudo (eng/test.sh)");
        }
    }
}
