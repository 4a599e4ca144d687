using Fulcrum.Adm;

namespace Fulcrum.Tests.Adm;

/// <summary>Every message and exit status of the reference's §3, plus popt's, against the seed table.</summary>
public class IpvsadmErrorTests
{
    private const string TryHelp = "Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n";

    [Theory]
    // Local validation: fail(2, ...)
    [InlineData("-a -t 198.51.100.100:80", "You need to supply the 'real-server' option for the 'add-server' command\n", 2)]
    [InlineData("-A -t 198.51.100.100:81 -g", "Illegal 'forwarding-method' option with the 'add-service' command\n", 2)]
    [InlineData("-A -t 198.51.100.100:81 -w 2", "Illegal 'weight' option with the 'add-service' command\n", 2)]
    [InlineData("-A -t 198.51.100.100", "Zero port specified for non-persistent service\n", 2)]
    [InlineData("-E -t 198.51.100.100:0", "Zero port specified for non-persistent service\n", 2)]
    [InlineData("-A -t 1.2.3.4:99999", "illegal virtual server address[:port] specified\n", 2)]
    [InlineData("-A -t 80", "illegal virtual server address[:port] specified\n", 2)]
    [InlineData("-A -t 1.2.3.4:abc", "illegal virtual server address[:port] specified\n", 2)]
    [InlineData("-A -t 1.2.3.4:-1", "illegal virtual server address[:port] specified\n", 2)]
    [InlineData("-A -t [2001:db8::1]", "illegal virtual server address[:port] specified\n", 2)]
    [InlineData("-A -t nosuchhost:80", "illegal virtual server address[:port] specified\n", 2)]
    [InlineData("-A -u 1.2.3.4:https", "illegal virtual server address[:port] specified\n", 2)]
    [InlineData("-a -t 198.51.100.100:80 -r bogus!host", "illegal real server address[:port] specified\n", 2)]
    [InlineData("-a -t 198.51.100.100:80 -r 198.51.100.9 -w 70000", "illegal weight specified\n", 2)]
    [InlineData("-a -t 198.51.100.100:80 -r 198.51.100.9 -w -1", "illegal weight specified\n", 2)]
    [InlineData("-a -t 198.51.100.100:80 -r 198.51.100.9 -x 2147483648", "illegal u_threshold specified\n", 2)]
    [InlineData("-a -t 198.51.100.100:80 -r 198.51.100.9 -y x", "illegal l_threshold specified\n", 2)]
    [InlineData("-A -t 198.51.100.100:81 -p 0", "invalid timeout value `0' specified\n", 2)]
    [InlineData("-A -t 198.51.100.100:81 -p abc", "invalid timeout value `abc' specified\n", 2)]
    [InlineData("-A -t 198.51.100.100:81 -p 2678401", "invalid timeout value `2678401' specified\n", 2)]
    [InlineData("-L -c --stats", "options conflicts in the list command\n", 2)]
    [InlineData("-L --timeout --persistent-conn", "options conflicts in the list command\n", 2)]
    [InlineData("-L -c -t 198.51.100.100:80", "The option 'service-address' conflicts with the 'connection' option in the 'list' command\n", 2)]
    [InlineData("-L --timeout --daemon", "The option 'daemon' conflicts with the 'timeout' option in the 'list' command\n", 2)]
    [InlineData("-a -t 198.51.100.100:80 -r 198.51.100.9 -g -m", "multiple 'forwarding-method' options specified\n", 2)]
    [InlineData("-A -t 198.51.100.100:81 -s rr -s wrr", "multiple 'scheduler' options specified\n", 2)]
    [InlineData("-A -t 198.51.100.100:81 -f 3", "multiple 'service-address' options specified\n", 2)]
    [InlineData("-Ln -n", "multiple 'numeric' options specified\n", 2)]
    [InlineData("-A -f 0", "invalid fwmark value `0' specified\n", 2)]
    [InlineData("-A -f 4294967296", "invalid fwmark value `4294967296' specified\n", 2)]
    [InlineData("-A -f 1x", "invalid fwmark value `1x' specified\n", 2)]
    [InlineData("-A -t 198.51.100.100:81 -6", "-6 used before -f\n\n", 2)]
    [InlineData("-A -t 198.51.100.100:81 -o", "One-Packet Scheduling is only for UDP virtual services\n", 2)]
    [InlineData("-A -t 198.51.100.100:81 -b sh-port", "incompatible scheduler flag `sh-port'\n", 2)]
    [InlineData("-A -t 198.51.100.100:81 -s sh -b sh-port,mh-port", "incompatible scheduler flag `mh-port'\n", 2)]
    [InlineData("-A -t 198.51.100.100:81 -b foo", "invalid scheduler flag `foo'\n", 2)]
    [InlineData("-A -t [2001:db8::1]:81 -p -M 200", "illegal ipv6 netmask specified\n", 2)]
    [InlineData("-A -t 198.51.100.100:81 -p -M bogus!", "illegal virtual server persistent mask specified\n", 2)]
    [InlineData("-a -t 198.51.100.100:80 -r [2001:db8::2]", "illegal real server address[:port] specified\n", 2)]
    [InlineData("-a -t 198.51.100.100:80 -r 2001:db8::2", "Different address family is allowed only for tunneling servers\n", 2)]
    [InlineData("-a -t 198.51.100.100:80 -r 198.51.100.9 --tun-type gue", "Tunnel options conflict with forward method\n", 2)]
    [InlineData("-a -t 198.51.100.100:80 -r 198.51.100.9 -i --tun-type gue", "You need to supply the 'tun-port' option for the 'gue' tunnel type\n", 2)]
    [InlineData("-a -t 198.51.100.100:80 -r 198.51.100.9 -i --tun-port 5000", "Illegal 'tun-port' option with the 'ipip' tunnel type\n", 2)]
    [InlineData("-a -t 198.51.100.100:80 -r 198.51.100.9 -i --tun-type gre --tun-csum --tun-nocsum", "The option 'tun-csum' conflicts with the 'tun-nocsum' option in the 'gre' tunnel type\n", 2)]
    [InlineData("-a -t 198.51.100.100:80 -r 198.51.100.9 -i --tun-type bogus", "illegal tunnel type specified\n", 2)]
    [InlineData("-a -t 198.51.100.100:80 -r 198.51.100.9 -i --tun-type gue --tun-port 0", "illegal tunnel port specified\n", 2)]
    [InlineData("--set 1 2", "--set option requires 3 timeout values\n", 2)]
    [InlineData("--set 1 2 x", "invalid timeout value `x' specified\n", 2)]
    [InlineData("--set 1 2 3 4", "unexpected argument 4\n", 2)]
    [InlineData("-L foo", "unexpected argument foo\n", 2)]
    [InlineData("foo -L", "unexpected argument foo\n", 2)]
    [InlineData("--start-daemon foo", "illegal start-daemon parameter specified\n", 2)]
    [InlineData("--stop-daemon foo", "illegal start_daemon specified\n", 2)]
    [InlineData("-C -n", "Illegal 'numeric' option with the 'flush' command\n", 2)]
    [InlineData("-S -c", "Illegal 'connection' option with the 'save' command\n", 2)]
    [InlineData("-S --nosort", "Illegal 'nosort' option with the 'save' command\n", 2)]
    [InlineData("-D -t 198.51.100.100:80 -s rr", "Illegal 'scheduler' option with the 'delete-service' command\n", 2)]
    [InlineData("-Z -n", "Illegal 'numeric' option with the 'zero' command\n", 2)]
    [InlineData("-E", "You need to supply the 'service-address' option for the 'edit-service' command\n", 2)]
    [InlineData("-L --mcast-group 1.2.3.4", "invalid IPv4 mcast-group `1.2.3.4'\n", 2)]
    [InlineData("-L --mcast-group ff02::zz", "invalid IPv6 mcast-group `ff02::zz'\n", 2)]
    [InlineData("-L --syncid 300", "illegal syncid specified\n", 2)]
    [InlineData("-L --mcast-ttl 0", "illegal mcast-ttl specified\n", 2)]
    [InlineData("-L --sync-maxlen 65508", "illegal sync-maxlen specified\n", 2)]
    [InlineData("-L --mcast-port 65536", "illegal mcast-port specified\n", 2)]
    [InlineData("-L --mcast-interface eth0", "Illegal 'mcast-interface' option with the 'list' command\n", 2)]
    // A second command is not in the loop's switch: popt's bad-option word is the last one consumed.
    [InlineData("-L -A", "invalid option `-A'\n", 2)]
    [InlineData("-LA", "invalid option `-LA'\n", 2)]
    [InlineData("-L -h", "invalid option `-h'\n", 2)]
    [InlineData("-L --start-daemon master", "invalid option `master'\n", 2)]
    // Kernel errors: ipvs_strerror by failing function, exit 255.
    [InlineData("-A -t 198.51.100.100:80", "Service already exists\n", 255)]
    [InlineData("-a -t 198.51.100.100:81 -r 198.51.100.2", "Service not defined\n", 255)]
    [InlineData("-e -t 198.51.100.100:81 -r 198.51.100.2", "Service not defined\n", 255)]
    [InlineData("-d -t 198.51.100.100:81 -r 198.51.100.2", "Service not defined\n", 255)]
    [InlineData("-a -t 198.51.100.100:80 -r 198.51.100.2", "Destination already exists\n", 255)]
    [InlineData("-d -t 198.51.100.100:80 -r 198.51.100.9", "No such destination\n", 255)]
    [InlineData("-e -t 198.51.100.100:80 -r 198.51.100.9", "No such destination\n", 255)]
    [InlineData("-d -t 198.51.100.100:80 -r 198.51.100.2:8080", "No such destination\n", 255)]
    [InlineData("-D -t 198.51.100.100:81", "No such service\n", 255)]
    [InlineData("-E -t 198.51.100.100:81", "No such service\n", 255)]
    [InlineData("-Z -t 198.51.100.100:81", "No such service\n", 255)]
    [InlineData("-A -t 198.51.100.100:81 -s nosuch", "Scheduler or persistence engine not found\n", 255)]
    [InlineData("-E -t 198.51.100.100:80 -s nosuch", "Scheduler or persistence engine not found\n", 255)]
    [InlineData("-A -t 198.51.100.100:81 -p --pe nosuch", "Scheduler or persistence engine not found\n", 255)]
    [InlineData("-a -t 198.51.100.100:80 -r 198.51.100.9 -x 10 -y 20", "Numerical result out of range\n", 255)]
    [InlineData("-a -t 198.51.100.100:80 -r 198.51.100.9 -y 1", "Numerical result out of range\n", 255)]
    [InlineData("--stop-daemon master", "No daemon is running\n", 255)]
    [InlineData("--stop-daemon backup --syncid 3", "No daemon is running\n", 255)]
    [InlineData("-a -t 198.51.100.100:80 -r 198.51.100.9 -i --tun-type gue --tun-port 6080", "fulcrum: tunnel type gue is not implemented yet\n", 255)]
    // Listing a missing service: exit 1.
    [InlineData("-L -t 198.51.100.100:81", "No such service\n", 1)]
    [InlineData("-Ln -t 198.51.100.100:81", "No such service\n", 1)]
    [InlineData("-L -f 5", "No such service\n", 1)]
    // popt: the first option must be the command; errors after it print "word: text" and exit 255.
    [InlineData("-n -L", TryHelp, 255)]
    [InlineData("foo", TryHelp, 255)]
    [InlineData("--bogus", TryHelp, 255)]
    [InlineData("-t 1.2.3.4:80 -A", TryHelp, 255)]
    [InlineData("-L --bogus", "--bogus: unknown option\n", 255)]
    [InlineData("-Lq", "-Lq: unknown option\n", 255)]
    [InlineData("-A -t", "-t: missing argument\n", 255)]
    [InlineData("-A --tcp-service", "--tcp-service: missing argument\n", 255)]
    [InlineData("-L --nosort=1", "--nosort=1: option does not take an argument\n", 255)]
    [InlineData("-L -n=1", "-n=1: option does not take an argument\n", 255)]
    [InlineData("-L --list-all", "--list-all: unknown option\n", 255)]
    public void Run_Mistake_PrintsIpvsadmMessageAndStatus(string args, string stderr, int exit)
    {
        AdmHarness h = AdmHarness.Seed();
        AdmResult r = h.Run(AdmHarness.Split(args));
        Assert.Equal(new AdmResult(exit, "", stderr), r);
    }

    [Theory]
    [InlineData("-a -t 198.51.100.100:80 -r 198.51.100.9 -w 70000 --bogus", "illegal weight specified\n", 2)]
    [InlineData("-a -t 198.51.100.100:80 -r 198.51.100.9 --bogus -w 70000", "--bogus: unknown option\n", 255)]
    [InlineData("-A -t bad -w 2", "illegal virtual server address[:port] specified\n", 2)]
    [InlineData("-A -w 2 -t bad", "illegal virtual server address[:port] specified\n", 2)]
    [InlineData("-A -t 198.51.100.100:81 -w 2 extra", "unexpected argument extra\n", 2)]
    [InlineData("-A -t 198.51.100.100:81 -b foo extra", "unexpected argument extra\n", 2)]
    [InlineData("-L -b foo", "invalid scheduler flag `foo'\n", 2)]
    public void Run_SeveralProblems_ReportsTheOneIpvsadmChecksFirst(string args, string stderr, int exit)
    {
        AdmResult r = AdmHarness.Seed().Run(AdmHarness.Split(args));
        Assert.Equal(new AdmResult(exit, "", stderr), r);
    }

    [Fact]
    public void Run_EmptyPersistentArgument_IsConsumedAndRejected()
    {
        AdmResult r = AdmHarness.Seed().Run("-A", "-t", "198.51.100.100:81", "-p", "");
        Assert.Equal(new AdmResult(2, "", "invalid timeout value `' specified\n"), r);
    }

    [Fact]
    public void Run_TryHelp_UsesProgramName()
    {
        AdmResult r = Ipvsadm.Run(["-n", "-L"], TextReader.Null, new FakeIpvsControl(), "fulcrum adm");
        Assert.Equal(new AdmResult(255, "", "Try `fulcrum adm -h' or 'fulcrum adm --help' for more information.\n"), r);
    }

    [Fact]
    public void Run_LocalError_DoesNotCallTheDirector()
    {
        AdmHarness h = AdmHarness.Seed();
        int before = h.Control.Calls;
        h.Run("-A", "-t", "198.51.100.100:81", "-w", "2");
        Assert.Equal(before, h.Control.Calls);
    }
}
