using Fulcrum.Balancing;
using static Fulcrum.Tests.Balancing.Lab;

namespace Fulcrum.Tests.Balancing;

public class TcpStateMachineTests
{
    [Theory]
    // INPUT-ONLY rows of tcp_states (ip_vs_proto_tcp.c), the ones a DR director uses.
    [InlineData(IpvsTcpState.None, Syn, IpvsTcpState.SynRecv)]
    [InlineData(IpvsTcpState.SynRecv, Ack, IpvsTcpState.Established)]
    [InlineData(IpvsTcpState.SynRecv, Syn, IpvsTcpState.SynRecv)]
    [InlineData(IpvsTcpState.SynRecv, Rst, IpvsTcpState.SynRecv)]
    [InlineData(IpvsTcpState.SynRecv, Fin | Ack, IpvsTcpState.TimeWait)]
    [InlineData(IpvsTcpState.Established, Ack | Psh, IpvsTcpState.Established)]
    [InlineData(IpvsTcpState.Established, Syn | Ack, IpvsTcpState.Established)]
    [InlineData(IpvsTcpState.Established, Fin | Ack, IpvsTcpState.FinWait)]
    [InlineData(IpvsTcpState.Established, Rst | Ack, IpvsTcpState.Close)]
    [InlineData(IpvsTcpState.FinWait, Ack, IpvsTcpState.FinWait)]
    [InlineData(IpvsTcpState.FinWait, Fin | Ack, IpvsTcpState.FinWait)]
    [InlineData(IpvsTcpState.FinWait, Syn, IpvsTcpState.SynRecv)]
    [InlineData(IpvsTcpState.FinWait, Rst, IpvsTcpState.Close)]
    [InlineData(IpvsTcpState.TimeWait, Ack, IpvsTcpState.TimeWait)]
    [InlineData(IpvsTcpState.Close, Ack, IpvsTcpState.Close)]
    [InlineData(IpvsTcpState.Close, Syn, IpvsTcpState.SynRecv)]
    [InlineData(IpvsTcpState.CloseWait, Fin, IpvsTcpState.CloseWait)]
    [InlineData(IpvsTcpState.LastAck, Ack, IpvsTcpState.Close)]
    [InlineData(IpvsTcpState.LastAck, Rst, IpvsTcpState.LastAck)]
    [InlineData(IpvsTcpState.Listen, Ack, IpvsTcpState.Listen)]
    [InlineData(IpvsTcpState.SynAck, Ack, IpvsTcpState.Established)]
    [InlineData(IpvsTcpState.SynAck, Rst, IpvsTcpState.Close)]
    [InlineData(IpvsTcpState.SynSent, Ack, IpvsTcpState.SynSent)]
    // RST beats SYN, SYN beats FIN; no flag at all closes (set_tcp_state's default).
    [InlineData(IpvsTcpState.Established, Syn | Rst, IpvsTcpState.Close)]
    [InlineData(IpvsTcpState.None, Syn | Fin, IpvsTcpState.SynRecv)]
    [InlineData(IpvsTcpState.Established, 0, IpvsTcpState.Close)]
    public void Next_InputOnly_KernelTable(IpvsTcpState from, byte flags, IpvsTcpState to) =>
        Assert.Equal(to, TcpStateMachine.Next(from, flags, inputOnly: true));

    [Theory]
    // The INPUT rows (NAT until a reply is seen) differ from INPUT-ONLY in three cells.
    [InlineData(IpvsTcpState.Established, Fin | Ack, IpvsTcpState.CloseWait)]
    [InlineData(IpvsTcpState.FinWait, Fin, IpvsTcpState.TimeWait)]
    [InlineData(IpvsTcpState.SynAck, Rst, IpvsTcpState.SynRecv)]
    public void Next_Input_KernelTable(IpvsTcpState from, byte flags, IpvsTcpState to) =>
        Assert.Equal(to, TcpStateMachine.Next(from, flags, inputOnly: false));

    [Theory]
    [InlineData(IpvsTcpState.None, false)]
    [InlineData(IpvsTcpState.Established, true)]
    [InlineData(IpvsTcpState.SynSent, true)]
    [InlineData(IpvsTcpState.SynRecv, true)]
    [InlineData(IpvsTcpState.FinWait, false)]
    [InlineData(IpvsTcpState.TimeWait, false)]
    [InlineData(IpvsTcpState.Close, false)]
    [InlineData(IpvsTcpState.CloseWait, false)]
    [InlineData(IpvsTcpState.LastAck, false)]
    [InlineData(IpvsTcpState.Listen, false)]
    [InlineData(IpvsTcpState.SynAck, true)]
    public void IsActive_KernelActiveTable(IpvsTcpState state, bool active) =>
        Assert.Equal(active, TcpStateMachine.IsActive(state));

    [Fact]
    public void Names_KernelStateNameTable() =>
        Assert.Equal(
            ["NONE", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "SYNACK"],
            Enumerable.Range(0, 11).Select(i => TcpStateMachine.Name((IpvsTcpState)i)));

    [Fact]
    public void DefaultTimeouts_KernelTcpTimeouts()
    {
        var s = ServiceSnapshot.Empty;
        Assert.Equal(2_000, s.TcpTimeoutMs(IpvsTcpState.None));
        Assert.Equal(900_000, s.TcpTimeoutMs(IpvsTcpState.Established));
        Assert.Equal(120_000, s.TcpTimeoutMs(IpvsTcpState.SynSent));
        Assert.Equal(60_000, s.TcpTimeoutMs(IpvsTcpState.SynRecv));
        Assert.Equal(120_000, s.TcpTimeoutMs(IpvsTcpState.FinWait));
        Assert.Equal(120_000, s.TcpTimeoutMs(IpvsTcpState.TimeWait));
        Assert.Equal(10_000, s.TcpTimeoutMs(IpvsTcpState.Close));
        Assert.Equal(60_000, s.TcpTimeoutMs(IpvsTcpState.CloseWait));
        Assert.Equal(30_000, s.TcpTimeoutMs(IpvsTcpState.LastAck));
        Assert.Equal(120_000, s.TcpTimeoutMs(IpvsTcpState.Listen));
        Assert.Equal(120_000, s.TcpTimeoutMs(IpvsTcpState.SynAck));
        Assert.Equal(300_000, s.UdpTimeoutMs);
    }
}
