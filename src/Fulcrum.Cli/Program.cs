namespace Fulcrum.Cli;

internal static class Program
{
    public static int Main(string[] args)
    {
        Console.WriteLine("fulcrum");
        return args.Length;
    }
}
