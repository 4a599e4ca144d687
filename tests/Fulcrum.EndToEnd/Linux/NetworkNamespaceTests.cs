using Fulcrum.Linux;

namespace Fulcrum.EndToEnd.Linux;

public class NetworkNamespaceTests
{
    [Fact]
    public void RunIn_Namespace_SeesItsInterfacesAndLeavesCallerAlone()
    {
        using var ns = new TwoNamespaces();
        int callerThread = Environment.CurrentManagedThreadId;

        (int index, int thread, int mtu) = NetworkNamespace.RunIn(ns.A, () => (NetInterface.GetIndex(TwoNamespaces.Interface), Environment.CurrentManagedThreadId, NetInterface.GetMtu(TwoNamespaces.Interface)));

        Assert.True(index > 1);
        Assert.Equal(1500, mtu);
        Assert.NotEqual(callerThread, thread);
        Assert.Throws<LinuxException>(() => NetInterface.GetIndex(TwoNamespaces.Interface));
    }

    [Fact]
    public void RunIn_MissingNamespace_Throws()
    {
        TwoNamespaces.RequireRoot();

        Assert.ThrowsAny<IOException>(() => NetworkNamespace.RunIn("fx-does-not-exist", () => 0));
    }

    [Fact]
    public void RunIn_NameWithSlash_Throws()
    {
        Assert.Throws<ArgumentException>(() => NetworkNamespace.RunIn("../etc", () => 0));
    }
}
