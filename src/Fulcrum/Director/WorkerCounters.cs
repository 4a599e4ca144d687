using Fulcrum.Linux;
using Fulcrum.Packets;

namespace Fulcrum.Director;

/// <summary>
/// One data-plane worker's counters, read from another thread without stopping it: every field is a
/// single-word read of a value only that worker writes (a scrape may see one counter a packet ahead
/// of another, as the ipvsadm listing may).
/// </summary>
internal sealed record WorkerCounters(
    int Index,
    PacketRingCounters Ring,
    long Forwarded,
    long ChecksumsCompleted,
    long[] Drops,
    int Connections,
    int ConnectionCapacity,
    long DroppedEntries = 0,
    long KernelScheduled = 0,
    long KernelScheduleRefused = 0)
{
    /// <summary>Every drop of this worker, all reasons together.</summary>
    public long TotalDrops
    {
        get
        {
            long sum = 0;
            for (int d = 1; d < Drops.Length; d++)
                sum += Drops[d];
            return sum;
        }
    }

    public static WorkerCounters Read(DataPlaneWorker worker, int index)
    {
        var drops = new long[(int)DropReason.Count];
        for (int r = 1; r < drops.Length; r++)
            drops[r] = worker.Drops((DropReason)r);
        return new WorkerCounters(index, worker.Ring.ReadCounters(), worker.Forwarded, worker.ChecksumsCompleted, drops,
            worker.Connections, worker.Capacity, worker.DroppedEntries, worker.KernelScheduled, worker.KernelScheduleRefused);
    }

    /// <summary>Every worker of <paramref name="dataPlane"/> (none before it starts), in worker order.</summary>
    public static IReadOnlyList<WorkerCounters> ReadAll(DataPlaneService? dataPlane)
    {
        var workers = dataPlane?.Workers ?? [];
        var list = new List<WorkerCounters>(workers.Count);
        for (int i = 0; i < workers.Count; i++)
            list.Add(Read(workers[i], i));
        return list;
    }
}
