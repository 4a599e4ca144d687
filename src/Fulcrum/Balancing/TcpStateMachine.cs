namespace Fulcrum.Balancing;

/// <summary>IPVS TCP connection states, in the kernel's order (IP_VS_TCP_S_*, ip_vs.h).</summary>
public enum IpvsTcpState : byte
{
    None = 0,
    Established,
    SynSent,
    SynRecv,
    FinWait,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Listen,
    SynAck,
}

/// <summary>
/// The IPVS TCP state machine (ip_vs_proto_tcp.c, non-secure tcp_states table). A director in DR/TUN
/// mode only sees the client's half of the conversation, so the kernel uses the INPUT-ONLY rows for
/// connections flagged IP_VS_CONN_F_NOOUTPUT (every non-NAT dest); NAT connections start on the INPUT rows.
/// </summary>
internal static class TcpStateMachine
{
    public const int StateCount = 11;

    public const byte Fin = 0x01;
    public const byte Syn = 0x02;
    public const byte Rst = 0x04;
    public const byte Ack = 0x10;

    private const byte NO = (byte)IpvsTcpState.None;
    private const byte ES = (byte)IpvsTcpState.Established;
    private const byte SS = (byte)IpvsTcpState.SynSent;
    private const byte SR = (byte)IpvsTcpState.SynRecv;
    private const byte FW = (byte)IpvsTcpState.FinWait;
    private const byte TW = (byte)IpvsTcpState.TimeWait;
    private const byte CL = (byte)IpvsTcpState.Close;
    private const byte CW = (byte)IpvsTcpState.CloseWait;
    private const byte LA = (byte)IpvsTcpState.LastAck;
    private const byte LI = (byte)IpvsTcpState.Listen;
    private const byte SA = (byte)IpvsTcpState.SynAck;

    // Rows: syn, fin, ack, rst (tcp_state_idx order); columns: current state NO..SA.
    private static ReadOnlySpan<byte> InputOnly =>
    [
        SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR, // syn
        CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW, // fin
        ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES, // ack
        CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL, // rst
    ];

    private static ReadOnlySpan<byte> Input =>
    [
        SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR, // syn
        CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW, // fin
        ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES, // ack
        CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR, // rst
    ];

    // tcp_states_dos (secure_tcp): a SYN leaves a DR connection in SYNACK, and on the INPUT rows an ACK
    // no longer establishes a connection whose server never answered (only NAT sees that answer).
    private static ReadOnlySpan<byte> InputOnlyDos =>
    [
        SA, ES, ES, SR, SA, SA, SA, SA, SA, SA, SA, // syn
        CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW, // fin
        ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES, // ack
        CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL, // rst
    ];

    private static ReadOnlySpan<byte> InputDos =>
    [
        SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SA, // syn
        CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, SA, // fin
        ES, ES, SS, SR, FW, TW, CL, CW, CL, LI, SA, // ack
        CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL, // rst
    ];

    // tcp_state_active_table: the pre-established states count as active too (kernel >= 4.x).
    private static ReadOnlySpan<byte> Active => [0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1];

    private static readonly string[] Names =
    [
        "NONE", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT", "TIME_WAIT",
        "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "SYNACK",
    ];

    /// <summary>tcp_timeouts in seconds, indexed by state.</summary>
    public static ReadOnlySpan<int> DefaultTimeoutsSeconds => [2, 15 * 60, 2 * 60, 60, 2 * 60, 2 * 60, 10, 60, 30, 2 * 60, 120];

    public const int DefaultUdpTimeoutSeconds = 5 * 60;

    /// <summary>
    /// The next state for a client-side segment. tcp_state_idx: RST wins over SYN, SYN over FIN, FIN over
    /// ACK; a segment with none of them sends the connection to CLOSE (set_tcp_state's default).
    /// </summary>
    /// <remarks><paramref name="secure"/> selects tcp_states_dos (sysctl secure_tcp while active).</remarks>
    public static IpvsTcpState Next(IpvsTcpState current, byte tcpFlags, bool inputOnly, bool secure = false)
    {
        int row;
        if ((tcpFlags & Rst) != 0)
            row = 3;
        else if ((tcpFlags & Syn) != 0)
            row = 0;
        else if ((tcpFlags & Fin) != 0)
            row = 1;
        else if ((tcpFlags & Ack) != 0)
            row = 2;
        else
            return IpvsTcpState.Close;

        var table = secure ? (inputOnly ? InputOnlyDos : InputDos) : inputOnly ? InputOnly : Input;
        return (IpvsTcpState)table[row * StateCount + (int)current];
    }

    public static bool IsActive(IpvsTcpState state) => Active[(int)state] != 0;

    public static string Name(IpvsTcpState state) => (int)state < Names.Length ? Names[(int)state] : "ERR!";
}
