using Fulcrum.Linux.Interop;

namespace Fulcrum.Linux;

/// <summary>What the kernel reported about one received frame (tpacket3_hdr.tp_status and hv1).</summary>
public readonly struct FrameStatus
{
    private readonly uint _status;
    private readonly ushort _vlanTci;
    private readonly ushort _vlanTpid;

    public FrameStatus(uint status, ushort vlanTci, ushort vlanTpid, int originalLength)
    {
        _status = status;
        _vlanTci = vlanTci;
        _vlanTpid = vlanTpid;
        OriginalLength = originalLength;
    }

    /// <summary>The raw TP_STATUS_* bits.</summary>
    public uint Raw => _status;

    /// <summary>
    /// TP_STATUS_CSUMNOTREADY: the skb was CHECKSUM_PARTIAL (typical between veths and for locally
    /// generated traffic): the TCP/UDP checksum field holds only the pseudo-header sum. Forwarding the
    /// frame as is makes the receiver drop it, so the data plane must complete the L4 checksum first.
    /// </summary>
    public bool ChecksumNotReady => (_status & Packet.TP_STATUS_CSUMNOTREADY) != 0;

    /// <summary>TP_STATUS_CSUM_VALID: the device or stack already verified the L4 checksum.</summary>
    public bool ChecksumValid => (_status & Packet.TP_STATUS_CSUM_VALID) != 0;

    /// <summary>
    /// TP_STATUS_VLAN_VALID: the frame arrived 802.1Q-tagged and TPACKET_V3 stripped the tag into
    /// <see cref="VlanTci"/>; the frame bytes are untagged. The seed data plane handles untagged traffic
    /// only, so it treats such frames as not ours.
    /// </summary>
    public bool VlanValid => (_status & Packet.TP_STATUS_VLAN_VALID) != 0;

    /// <summary>The stripped tag control information (PCP, DEI, VID); 0 unless <see cref="VlanValid"/>.</summary>
    public ushort VlanTci => VlanValid ? _vlanTci : (ushort)0;

    /// <summary>The stripped VLAN id (low 12 bits of the TCI).</summary>
    public int VlanId => VlanTci & 0x0FFF;

    /// <summary>The tag's TPID (0x8100, 0x88a8) when TP_STATUS_VLAN_TPID_VALID, else 0.</summary>
    public ushort VlanTpid => (_status & Packet.TP_STATUS_VLAN_TPID_VALID) != 0 ? _vlanTpid : (ushort)0;

    /// <summary>TP_STATUS_LOSING: the kernel dropped frames since the last statistics read.</summary>
    public bool Losing => (_status & Packet.TP_STATUS_LOSING) != 0;

    /// <summary>The frame's length on the wire (tp_len); larger than the span when it was truncated.</summary>
    public int OriginalLength { get; }
}
