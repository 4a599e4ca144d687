using System.Runtime.InteropServices;

namespace Fulcrum.Linux.Interop;

internal static unsafe partial class Libc
{
    internal const int SCHED_OTHER = 0;
    internal const int SCHED_FIFO = 1;
    internal const int SCHED_RESET_ON_FORK = 0x40000000;
    internal const int PRIO_PROCESS = 0;

    /// <summary>sched_setscheduler(pid, policy, &amp;param); pid 0 is the calling thread on Linux. struct sched_param is one int.</summary>
    [LibraryImport(Library, EntryPoint = "sched_setscheduler", SetLastError = true)]
    internal static partial int SchedSetScheduler(int pid, int policy, int* param);

    /// <summary>setpriority(which, who, prio); on Linux PRIO_PROCESS with who 0 sets the calling thread's nice value.</summary>
    [LibraryImport(Library, EntryPoint = "setpriority", SetLastError = true)]
    internal static partial int SetPriority(int which, int who, int priority);
}
