#!/usr/bin/env python3
"""Writes the expected ipvsadm 1.31 outputs for tests/Fulcrum.Tests/Adm/IpvsadmGoldenTests.cs.

An oracle independent of the C# code: each table is given as the kernel state it should hold, and
printed with ipvsadm.c's own printf format strings (print_title, print_service_entry,
print_largenum, print_conn, list_all) through Python's %-formatting, which follows C printf for
%s/%d/%u with width and '-' flags. Sorting is glibc's merge sort with libipvs's comparators. The
-h text is the concatenation of the string literals of usage_exit() in ipvsadm.c 1.31.
Run: python3 make_golden.py [path/to/ipvsadm.c]   (writes *.txt next to this file)
"""
import ipaddress, os, re, sys

HERE = os.path.dirname(os.path.abspath(__file__))
NUMERIC, RULE, STATS, RATE, THRESH, PCONN, NOSORT, EXACT, TUNINFO = 1, 2, 4, 8, 0x10, 0x20, 0x40, 0x80, 0x100
HOSTS = {}      # ip string -> name
SERVICES = {}   # (port, proto) -> name


def u32(x): return x & 0xffffffff
def s32(x):
    x &= 0xffffffff
    return x - (1 << 32) if x & 0x80000000 else x


class Dest:
    def __init__(self, addr, port, fwd='Route', w=1, u=0, l=0, act=0, inact=0, pers=0, stats=(0,)*5, rates=(0,)*5):
        self.addr, self.port, self.fwd, self.w, self.u, self.l = ipaddress.ip_address(addr), port, fwd, w, u, l
        self.act, self.inact, self.pers, self.stats, self.rates = act, inact, pers, stats, rates


class Svc:
    def __init__(self, proto='TCP', addr='0.0.0.0', port=0, fwmark=0, v6=False, sched='wlc', flags=(), timeout=0,
                 prefix=None, pe='', ops=False, dests=(), stats=(0,)*5, rates=(0,)*5):
        self.proto, self.port, self.fwmark, self.sched, self.flags = proto, port, fwmark, sched, flags
        self.addr = ipaddress.ip_address(addr if not (fwmark and v6) else '::')
        self.v6 = self.addr.version == 6
        self.timeout, self.pe, self.ops, self.dests, self.stats, self.rates = timeout, pe, ops, list(dests), stats, rates
        self.prefix = prefix if prefix is not None else (128 if self.v6 else 32)


def words(a):
    b = a.packed + bytes(16 - len(a.packed))
    return [int.from_bytes(b[i*4:i*4+4], 'big') for i in range(4)]


def cmp_services(a, b):
    r = s32(a.fwmark - b.fwmark)
    if r: return r
    r = (10 if a.v6 else 2) - (10 if b.v6 else 2)
    if r: return r
    r = {'TCP': 6, 'UDP': 17, 'SCTP': 132}[a.proto] - {'TCP': 6, 'UDP': 17, 'SCTP': 132}[b.proto]
    if r: return r
    wa, wb = words(a.addr), words(b.addr)
    if a.v6:
        for i in range(4):
            r = s32(wa[i] - wb[i])
            if r: break
    else:
        r = s32(wa[0] - wb[0])
    if r: return r
    return a.port - b.port


def cmp_dests(a, b):
    wa, wb = words(a.addr), words(b.addr)
    r = 0
    if a.addr.version == 6:
        for i in range(4):
            r = s32(wa[i] - wb[i])
            if r: break
    else:
        r = s32(wa[0] - wb[0])
    if r: return r
    return a.port - b.port


def msort(b, cmp):  # glibc msort_with_tmp
    n = len(b)
    if n <= 1: return b
    n1 = n // 2
    l, r = msort(b[:n1], cmp), msort(b[n1:], cmp)
    out, i, j = [], 0, 0
    while i < len(l) and j < len(r):
        if cmp(l[i], r[j]) <= 0: out.append(l[i]); i += 1
        else: out.append(r[j]); j += 1
    return out + l[i:] + r[j:]


def addrport(a, port, proto, fmt):
    v4 = a.version == 4
    if fmt & NUMERIC:
        s = '%s%s%s:%u' % ('' if v4 else '[', str(a), '' if v4 else ']', port)
    else:
        s = '%s%s%s:%s' % ('' if v4 else '[', HOSTS.get(str(a), str(a)), '' if v4 else ']',
                           SERVICES.get((port, proto.lower()), '%u' % port))
    return s[:59]


def largenum(i, fmt):
    if fmt & EXACT:
        n = len('%d' % i)
        return '%*d' % (9 if n <= 8 else n + 1, i)
    if i < 100000000: return '%9d' % i
    if i < 1000000000: return '%8dK' % (i // 1000)
    if i < 100000000000: return '%8dM' % (i // 1000000)
    if i < 100000000000000: return '%8dG' % (i // 1000000000)
    return '%8dT' % (i // 1000000000000)


def title(fmt):
    if fmt & STATS:
        return ('%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n' %
                ('Prot LocalAddress:Port', 'Conns', 'InPkts', 'OutPkts', 'InBytes', 'OutBytes'))
    if fmt & RATE:
        return ('%-33s %8s %8s %8s %8s %8s\n  -> RemoteAddress:Port\n' %
                ('Prot LocalAddress:Port', 'CPS', 'InPPS', 'OutPPS', 'InBPS', 'OutBPS'))
    if fmt & THRESH:
        return ('%-33s %-10s %-10s %-10s %-10s\n  -> RemoteAddress:Port\n' %
                ('Prot LocalAddress:Port', 'Uthreshold', 'Lthreshold', 'ActiveConn', 'InActConn'))
    if fmt & PCONN:
        return ('%-33s %-9s %-11s %-10s %-10s\n  -> RemoteAddress:Port\n' %
                ('Prot LocalAddress:Port', 'Weight', 'PersistConn', 'ActiveConn', 'InActConn'))
    if fmt & TUNINFO:
        return ('Prot LocalAddress:Port Scheduler Flags\n'
                '  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n')
    if not fmt & RULE:
        return ('Prot LocalAddress:Port Scheduler Flags\n'
                '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n')
    return ''


def sched_flags(se):
    names = {'sh': ['sh-fallback', 'sh-port', None], 'mh': ['mh-fallback', 'mh-port', None]}.get(
        se.sched, ['flag-1', 'flag-2', 'flag-3'])
    return ','.join(n for i, n in enumerate(names) if n and ('flag-%d' % (i + 1)) in se.flags)


def mask_str(se, label):
    if not se.v6 and se.prefix != 32:
        m = u32(~(0xffffffff >> se.prefix)) if se.prefix else 0
        return ' %s %s' % (label, str(ipaddress.IPv4Address(m)))
    if se.v6 and se.prefix != 128:
        return ' %s %i' % (label, se.prefix)
    return ''


def service_entry(se, fmt):
    out = ''
    if se.fwmark:
        if fmt & RULE:
            name = ('-f %d -6' if se.v6 else '-f %d') % s32(se.fwmark)
        else:
            name = ('FWM  %d IPv6' if se.v6 else 'FWM  %d') % s32(se.fwmark)
    else:
        vname = addrport(se.addr, se.port, se.proto, fmt)
        if fmt & RULE:
            name = '%s %s' % ({'TCP': '-t', 'UDP': '-u', 'SCTP': '--sctp-service'}[se.proto], vname)
        else:
            name = '%-4s %s' % (se.proto, vname)
            if not se.v6: name = name[:33]
    if fmt & RULE:
        out += '-A %s -s %s' % (name, se.sched)
        if se.timeout:
            out += ' -p %u' % se.timeout + mask_str(se, '-M')
        if se.pe: out += ' --pe %s' % se.pe
        if se.ops: out += ' -o'
        if se.flags: out += ' -b ' + sched_flags(se)
    elif fmt & STATS:
        out += '%-33s' % name + ''.join(largenum(x, fmt) for x in se.stats)
    elif fmt & RATE:
        out += '%-33s' % name + ''.join(largenum(x, fmt) for x in se.rates)
    else:
        out += '%s %s' % (name, se.sched)
        if se.flags: out += ' (' + sched_flags(se) + ')'
        if se.timeout:
            out += ' persistent %u' % se.timeout + mask_str(se, 'mask')
            if se.pe: out += ' pe %s' % se.pe
        if se.ops: out += ' ops'
    out += '\n'
    dests = se.dests if fmt & NOSORT else msort(se.dests, cmp_dests)
    sw = {'Masq': '-m', 'Tunnel': '-i', 'Local': '-g', 'Route': '-g'}
    for e in dests:
        dname = addrport(e.addr, e.port, se.proto, fmt)
        if not fmt & RULE and e.addr.version != 6: dname = dname[:28]
        if fmt & RULE:
            if e.fwd == 'Tunnel':
                out += '-a %s -r %s %s -w %d --tun-type %s\n' % (name, dname, sw[e.fwd], e.w, 'ipip')
            else:
                out += '-a %s -r %s %s -w %d\n' % (name, dname, sw[e.fwd], e.w)
        elif fmt & STATS:
            out += '  -> %-28s' % dname + ''.join(largenum(x, fmt) for x in e.stats) + '\n'
        elif fmt & RATE:
            out += '  -> %-28s %8u %8u %8u' % (dname, e.rates[0], e.rates[1], e.rates[2])
            out += largenum(e.rates[3], fmt) + largenum(e.rates[4], fmt) + '\n'
        elif fmt & THRESH:
            out += '  -> %-28s %-10u %-10u %-10u %-10u\n' % (dname, e.u, e.l, e.act, e.inact)
        elif fmt & PCONN:
            out += '  -> %-28s %-9u %-11u %-10u %-10u\n' % (dname, e.w, e.pers, e.act, e.inact)
        elif fmt & TUNINFO:
            out += '  -> %-28s %-7s %-13s %-6d %-10u %-10u\n' % (
                dname, e.fwd, 'ipip' if e.fwd == 'Tunnel' else 'n/a', e.w, e.act, e.inact)
        else:
            out += '  -> %-28s %-7s %-6d %-10u %-10u\n' % (dname, e.fwd, e.w, e.act, e.inact)
    return out


def list_all(services, fmt, size=4096):
    out = '' if fmt & RULE else 'IP Virtual Server version %d.%d.%d (size=%d)\n' % (1, 2, 1, size)
    if not fmt & NOSORT: services = msort(list(services), cmp_services)
    out += title(fmt)
    for se in services: out += service_entry(se, fmt)
    return out


def list_conn(conns, fmt):
    out = 'IPVS connection entries\n'
    if fmt & PCONN:
        out += 'pro expire %-11s %-18s %-18s %-18s %-16s %s\n' % ('state', 'source', 'virtual', 'destination', 'pe name', 'pe_data')
    else:
        out += 'pro expire %-11s %-18s %-18s %s\n' % ('state', 'source', 'virtual', 'destination')
    for (proto, c, cp, v, vp, d, dp, state, exp, pe, ped) in conns:
        cn = addrport(ipaddress.ip_address(c), cp, proto, fmt)
        vn = addrport(ipaddress.ip_address(v), vp, proto, fmt)
        dn = addrport(ipaddress.ip_address(d), dp, proto, fmt)
        es = '%02d:%02d' % (exp // 60, exp % 60)
        if fmt & PCONN and pe:
            out += '%-3s %-6s %-11s %-18s %-18s %-16s %-18s %s\n' % (proto, es, state, cn, vn, dn, pe, ped)
        else:
            out += '%-3s %-6s %-11s %-18s %-18s %s\n' % (proto, es, state, cn, vn, dn)
    return out


def usage(src, prog='ipvsadm'):
    body = src[src.index('usage_exit(const char *program, const int exit_status)\n{'):src.index('version_exit(const int exit_status)\n{')]
    text = ''
    for call in re.findall(r'fprintf\(stream,(.*?)\);', body, re.S):
        lits = re.findall(r'"((?:[^"\\]|\\.)*)"|(\bSCHEDULERS\b|\bPE_LIST\b)', call)
        s = ''
        for lit, macro in lits:
            s += {'SCHEDULERS': 'rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh', 'PE_LIST': 'sip'}[macro] if macro else lit
        s = s.encode().decode('unicode_escape')
        n = s.count('%s')
        args = [prog] * n if 'Usage' in s else (['wlc', 'ipip'] if n == 2 else [])
        text += s % tuple(args) if args else s
    return 'ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\n' + text


def D(*a, **k): return Dest(*a, **k)


def write(name, text):
    with open(os.path.join(HERE, name), 'w', newline='') as f:
        f.write(text)


def main():
    VIP = '198.51.100.100'
    seed = [Svc('TCP', VIP, 80, sched='rr', dests=[D('198.51.100.2', 80), D('198.51.100.3', 80)])]
    for suffix, fmt in [('Ln', NUMERIC), ('Ln-stats', NUMERIC | STATS), ('Ln-rate', NUMERIC | RATE),
                        ('Ln-thresholds', NUMERIC | THRESH), ('Ln-persistent-conn', NUMERIC | PCONN),
                        ('Sn', NUMERIC | RULE)]:
        write('seed.%s.txt' % suffix, list_all(seed, fmt))

    misc = [Svc('TCP', VIP, 443, sched='wlc', timeout=360, prefix=24, dests=[D('10.0.0.2', 8443, 'Masq', 5, act=3, inact=12)]),
            Svc('UDP', VIP, 53, sched='rr', ops=True, dests=[D('198.51.100.4', 53, 'Tunnel', 0)]),
            Svc(fwmark=7, sched='sh', flags=('flag-1', 'flag-2'), dests=[D('198.51.100.5', 0)])]
    write('misc.Ln.txt', list_all(misc, NUMERIC))
    write('misc.Sn.txt', list_all(misc, NUMERIC | RULE))
    write('misc.Ln-tun-info.txt', list_all(misc, NUMERIC | TUNINFO))

    big = [Svc('TCP', VIP, 80, stats=(123456789, 5000000000, 1234567890123, 123456789012345678, 99999999),
               rates=(12345, 123456789, 0, 1000000000, 5),
               dests=[D('198.51.100.2', 80, stats=(100000000, 999999999, 1000000000, 99999999999, 100000000000),
                        rates=(123456789, 5, 6, 200000000, 7)),
                      D('198.51.100.3', 80, stats=(99999999999999, 100000000000000, 0, 1, 18446744073709551615),
                        rates=(1, 2, 3, 4, 99999999))])]
    for suffix, fmt in [('Ln-stats', NUMERIC | STATS), ('Ln-stats-exact', NUMERIC | STATS | EXACT),
                        ('Ln-rate', NUMERIC | RATE), ('Ln-rate-exact', NUMERIC | RATE | EXACT)]:
        write('big.%s.txt' % suffix, list_all(big, fmt))

    pt = [Svc('TCP', VIP, 443, sched='wlc', timeout=3600,
              dests=[D('198.51.100.2', 443, w=10, u=100, l=50, act=7, inact=8, pers=9),
                     D('198.51.100.3', 443, 'Masq', 0, u=2147483647, l=0, act=123456, inact=1234567890, pers=4294967295)])]
    for suffix, fmt in [('Ln-thresholds', NUMERIC | THRESH), ('Ln-persistent-conn', NUMERIC | PCONN), ('Sn', NUMERIC | RULE)]:
        write('pt.%s.txt' % suffix, list_all(pt, fmt))

    v6 = [Svc('TCP', '2001:db8:100::100', 80, sched='wlc', timeout=600, prefix=64, pe='sip',
              dests=[D('2001:db8::10', 8080, 'Masq', 1), D('2001:db8::2', 80, 'Masq', 3)]),
          Svc('UDP', '2001:db8:100::100', 53, sched='wrr', ops=True, dests=[D('2001:db8::3', 53)]),
          Svc(fwmark=9, v6=True, sched='rr', dests=[D('2001:db8::5', 0)]),
          Svc('TCP', VIP, 80, sched='rr', dests=[D('2001:db8::7', 80, 'Tunnel', 1)])]
    write('v6.Ln.txt', list_all(v6, NUMERIC))
    write('v6.Sn.txt', list_all(v6, NUMERIC | RULE))
    write('v6.Ln-tun-info.txt', list_all(v6, NUMERIC | TUNINFO))

    HOSTS.update({VIP: 'vip.example.com', '198.51.100.2': 'rs1.example.com',
                  '198.51.100.3': 'a-very-long-real-server-name.example.com', '2001:db8::2': 'rs6.example.com'})
    SERVICES.update({(80, 'tcp'): 'http', (443, 'tcp'): 'https', (53, 'udp'): 'domain', (53, 'tcp'): 'domain'})
    names = [Svc('TCP', VIP, 80, sched='rr', dests=[D('198.51.100.2', 80), D('198.51.100.3', 80), D('198.51.100.4', 80)]),
             Svc('TCP', '198.51.100.3', 443, sched='rr', timeout=360, dests=[D('198.51.100.4', 443)]),
             Svc('UDP', VIP, 53, sched='rr', dests=[D('198.51.100.2', 53, 'Masq')]),
             Svc('TCP', '2001:db8::2', 80, sched='rr', dests=[D('2001:db8::2', 8080, 'Masq')])]
    write('names.L.txt', list_all(names, 0))
    write('names.S.txt', list_all(names, RULE))
    conns = [('TCP', '203.0.113.7', 51514, VIP, 80, '198.51.100.2', 80, 'ESTABLISHED', 898, '', ''),
             ('TCP', '203.0.113.9', 40000, VIP, 80, '198.51.100.3', 80, 'SYN_RECV', 57, '', ''),
             ('TCP', '203.0.113.8', 3333, VIP, 80, '198.51.100.3', 80, 'TIME_WAIT', 119, '', ''),
             ('UDP', '2001:db8::99', 5353, '2001:db8:100::100', 53, '2001:db8::3', 53, 'UDP', 300, '', ''),
             ('UDP', '203.0.113.7', 5060, VIP, 5060, '198.51.100.2', 5060, 'UDP', 180, 'sip', 'call-123@example'),
             ('TCP', '203.0.113.10', 1, VIP, 443, '198.51.100.4', 443, 'NONE', 7200, '', '')]
    write('conn.Lc.txt', list_conn(conns, 0))
    HOSTS.clear(); SERVICES.clear()
    write('conn.Lnc.txt', list_conn(conns, NUMERIC))
    write('conn.Lnc-persistent-conn.txt', list_conn(conns, NUMERIC | PCONN))

    order = [Svc('TCP', '10.0.0.1', 80, dests=[D('10.0.0.5', 80), D('200.0.0.5', 80), D('192.168.0.1', 80), D('10.0.0.5', 22, 'Masq')]),
             Svc('TCP', '200.0.0.1', 80), Svc('UDP', '10.0.0.1', 53), Svc(fwmark=3), Svc(fwmark=1),
             Svc(fwmark=4294967295), Svc('TCP', '10.0.0.1', 22), Svc('TCP', '2001:db8::1', 80),
             Svc('TCP', '9.0.0.1', 80), Svc('SCTP', '10.0.0.1', 80), Svc('TCP', '127.0.0.1', 80)]
    write('sort.Ln.txt', list_all(order, NUMERIC))
    write('sort.Ln-nosort.txt', list_all(order, NUMERIC | NOSORT))

    if len(sys.argv) > 1:
        write('help.txt', usage(open(sys.argv[1], encoding='latin-1').read()))


main()
