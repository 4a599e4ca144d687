using Fulcrum.Balancing;
using Fulcrum.Sync;

namespace Fulcrum.Tests.Sync;

public class SyncQueueTests
{
    [Fact]
    public void TryEnqueue_Full_RefusesAndCountsThenFifo()
    {
        var q = new SyncQueue(4);
        for (ushort i = 0; i < 6; i++)
            q.TryEnqueue(new SyncedConnection { ClientPort = i });
        Assert.Equal(2, q.Dropped);
        for (ushort i = 0; i < 4; i++)
        {
            Assert.True(q.TryDequeue(out var c));
            Assert.Equal(i, c.ClientPort);
        }
        Assert.False(q.TryDequeue(out _));
        Assert.True(q.IsEmpty);
    }

    [Fact]
    public void ProducerAndConsumerThreads_EveryItemOnceInOrder()
    {
        var q = new SyncQueue(64);
        const int N = 200_000;
        var producer = new Thread(() =>
        {
            for (int i = 0; i < N; i++)
            {
                var c = new SyncedConnection { TimeoutSeconds = (uint)i };
                while (!q.TryEnqueue(in c))
                    Thread.SpinWait(10);
            }
        });
        producer.Start();
        uint expected = 0;
        while (expected < N)
        {
            if (q.TryDequeue(out var c))
                Assert.Equal(expected++, c.TimeoutSeconds);
        }
        producer.Join();
    }
}
