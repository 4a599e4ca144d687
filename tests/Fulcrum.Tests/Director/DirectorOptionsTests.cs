using Fulcrum.Director;

namespace Fulcrum.Tests.Director;

public class DirectorOptionsTests
{
    [Fact]
    public void ResolvedWorkers_Zero_OnePerCpu()
    {
        Assert.Equal(Environment.ProcessorCount, new DirectorOptions().ResolvedWorkers);
        Assert.Equal(3, new DirectorOptions { Workers = 3 }.ResolvedWorkers);
    }

    [Theory]
    [InlineData(1000, 2, 500)]
    [InlineData(1001, 2, 501)]
    [InlineData(1, 4, 1)]
    public void MaxConnectionsPerWorker_ShareOfTheBound_RoundedUp(int max, int workers, int perWorker) =>
        Assert.Equal(perWorker, new DirectorOptions { MaxConnections = max, Workers = workers }.MaxConnectionsPerWorker);
}
