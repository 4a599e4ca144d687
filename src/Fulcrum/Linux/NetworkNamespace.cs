using Fulcrum.Linux.Interop;

namespace Fulcrum.Linux;

/// <summary>
/// Runs code inside a named network namespace (/var/run/netns/NAME, as `ip netns add` creates them).
/// </summary>
/// <remarks>
/// setns(2) with CLONE_NEWNET moves only the calling thread, and a thread keeps its namespace until it
/// exits. So the code runs on a fresh dedicated thread that enters the namespace and then ends; the caller's
/// thread (often a thread-pool thread) is never changed. What that code creates stays in the namespace:
/// sockets (a <see cref="PacketRing"/>, a <see cref="NeighbourTable"/>) keep working from any thread
/// afterwards, and child processes it starts inherit the namespace. The delegate must be synchronous: an
/// await would resume on a thread-pool thread in the original namespace.
/// </remarks>
public static class NetworkNamespace
{
    /// <summary>The directory `ip netns` keeps named namespaces in.</summary>
    public const string Directory = "/var/run/netns";

    /// <summary>Runs <paramref name="func"/> on a new thread inside namespace <paramref name="name"/> and returns its result.</summary>
    public static T RunIn<T>(string name, Func<T> func)
    {
        ArgumentNullException.ThrowIfNull(func);
        string path = PathOf(name);
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                Enter(path);
                result = func();
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        })
        {
            IsBackground = true,
            Name = "netns " + name,
        };
        thread.Start();
        thread.Join();
        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }

        return result;
    }

    /// <summary>Runs <paramref name="action"/> on a new thread inside namespace <paramref name="name"/>.</summary>
    public static void RunIn(string name, Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        RunIn(name, () =>
        {
            action();
            return 0;
        });
    }

    /// <summary>
    /// Starts a long-running background thread inside namespace <paramref name="name"/> (e.g. a monitor loop)
    /// and returns it; exceptions from <paramref name="action"/> are the caller's to catch inside it.
    /// </summary>
    public static Thread StartIn(string name, Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        string path = PathOf(name);
        var thread = new Thread(() =>
        {
            Enter(path);
            action();
        })
        {
            IsBackground = true,
            Name = "netns " + name,
        };
        thread.Start();
        return thread;
    }

    private static string PathOf(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Contains('/', StringComparison.Ordinal) || name is "." or "..")
        {
            throw new ArgumentException($"'{name}' is not a namespace name.", nameof(name));
        }

        return Path.Combine(Directory, name);
    }

    private static void Enter(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        if (Libc.SetNs((int)handle.DangerousGetHandle(), Libc.CLONE_NEWNET) != 0)
        {
            Errno.Throw($"setns({path}, CLONE_NEWNET)");
        }
    }
}
