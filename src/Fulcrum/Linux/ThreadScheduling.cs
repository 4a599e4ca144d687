using System.Runtime.InteropServices;
using Fulcrum.Linux.Interop;

namespace Fulcrum.Linux;

/// <summary>Scheduling of the calling thread (Linux schedules threads, so these leave the rest of the process alone).</summary>
public static unsafe class ThreadScheduling
{
    /// <summary>
    /// Puts the calling thread in SCHED_FIFO at <paramref name="priority"/> (1..99): it then runs ahead of every
    /// normal (CFS) task the moment it is runnable. Needs CAP_SYS_NICE (root). The kernel's RT throttling
    /// (sched_rt_runtime_us, 95% by default) still bounds a thread that would spin. SCHED_RESET_ON_FORK: the
    /// processes this thread starts (scripts) run as normal tasks. Returns 0 or the errno.
    /// </summary>
    public static int TrySetFifo(int priority)
    {
        int param = priority;
        return Libc.SchedSetScheduler(0, Libc.SCHED_FIFO | Libc.SCHED_RESET_ON_FORK, &param) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>Sets the calling thread's nice value (-20..19; below 0 needs CAP_SYS_NICE). Returns 0 or the errno.</summary>
    public static int TrySetNice(int nice) =>
        Libc.SetPriority(Libc.PRIO_PROCESS, 0, nice) == 0 ? 0 : Marshal.GetLastPInvokeError();
}
