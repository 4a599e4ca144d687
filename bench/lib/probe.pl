#!/usr/bin/perl
# Client probe for bench/vrrp-failover.sh: opens a new TCP connection to HOST:PORT every INTERVAL
# seconds, without waiting for earlier ones (non-blocking sockets, so a lost SYN does not delay the
# next probe), sends `GET / HTTP/1.0` and counts the probe as served when an `HTTP/1.x 200` status line
# arrives within TIMEOUT seconds. One line per probe into OUT: "S|F|T START END" (served, failed,
# timed out), epoch seconds. Runs until SIGTERM.
#   usage: probe.pl HOST PORT INTERVAL TIMEOUT OUT
use strict;
use warnings;
use Socket qw(PF_INET SOCK_STREAM SOL_SOCKET SO_ERROR inet_aton sockaddr_in);
use IO::Handle;
use Time::HiRes qw(time);

my ($host, $port, $interval, $timeout, $out) = @ARGV;
die "usage: probe.pl HOST PORT INTERVAL TIMEOUT OUT\n" unless defined $out;
my $stop = 0;
$SIG{TERM} = $SIG{INT} = sub { $stop = 1 };
my $addr = sockaddr_in($port, inet_aton($host));
open my $log, '>', $out or die "probe.pl: $out: $!\n";
$log->autoflush(1);

my %live;    # fileno -> { s, t, reading }
my $next = time;
sub finish {
    my ($fd, $kind, $now) = @_;
    my $p = delete $live{$fd};
    printf $log "%s %.6f %.6f\n", $kind, $p->{t}, $now;
    close $p->{s};
}

while (!$stop) {
    my $now = time;
    if ($now >= $next) {
        socket(my $s, PF_INET, SOCK_STREAM, 0) or die "probe.pl: socket: $!\n";
        $s->blocking(0);
        connect($s, $addr);
        $live{fileno $s} = { s => $s, t => $now, reading => 0 };
        $next += $interval;
        $next = $now + $interval if $next < $now;
    }
    my ($rin, $win) = ('', '');
    for my $fd (keys %live) {
        vec($live{$fd}{reading} ? $rin : $win, $fd, 1) = 1;
    }
    my $wait = $next - time;
    $wait = 0 if $wait < 0;
    select(my $rout = $rin, my $wout = $win, undef, $wait);
    $now = time;
    for my $fd (keys %live) {
        my $p = $live{$fd};
        if (!$p->{reading} && vec($wout, $fd, 1)) {
            if (unpack('i', getsockopt($p->{s}, SOL_SOCKET, SO_ERROR))) { finish($fd, 'F', $now); next; }
            syswrite($p->{s}, "GET / HTTP/1.0\r\nHost: $host\r\n\r\n");
            $p->{reading} = 1;
        } elsif ($p->{reading} && vec($rout, $fd, 1)) {
            my $n = sysread($p->{s}, my $buf, 4096);
            finish($fd, ($n && $buf =~ m{^HTTP/1\.\d 200}) ? 'S' : 'F', $now);
            next;
        }
        finish($fd, 'T', $now) if exists $live{$fd} && $now - $p->{t} > $timeout;
    }
}
