#:project ../../src/Fulcrum/Fulcrum.csproj
#:property PublishAot=false

// Brings the lab up or down for bench/lab-throughput.sh, independent of the `fulcrum` CLI:
//   dotnet run bench/lib/lab.cs -- up|down PREFIX
using Fulcrum.Lab;

if (args.Length != 2 || (args[0] != "up" && args[0] != "down"))
{
    Console.Error.WriteLine("usage: lab.cs up|down PREFIX");
    return 2;
}

var lab = new LabCluster(args[1]) { Log = Environment.GetEnvironmentVariable("LAB_TRACE") is null ? null : Console.Error };
if (args[0] == "up")
{
    var sw = System.Diagnostics.Stopwatch.StartNew();
    lab.Up();
    Console.WriteLine($"lab {lab.Prefix} up in {sw.ElapsedMilliseconds} ms");
}
else
{
    foreach (var pid in lab.Down())
    {
        Console.Error.WriteLine($"left running (not started by the lab): pid {pid}");
    }
}

return 0;
