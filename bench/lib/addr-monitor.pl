#!/usr/bin/perl
# Time-stamps address changes in one namespace for bench/vrrp-failover.sh: runs
# `ip -n NS -o monitor address` and writes "EPOCH-SECONDS LINE" for each event into OUT, as it arrives.
# SIGTERM stops it and the ip process it started (by that PID only).
#   usage: addr-monitor.pl NS OUT
use strict;
use warnings;
use IO::Handle;
use Time::HiRes qw(time);

my ($ns, $out) = @ARGV;
die "usage: addr-monitor.pl NS OUT\n" unless defined $out;
open my $log, '>', $out or die "addr-monitor.pl: $out: $!\n";
$log->autoflush(1);
my $pid = open(my $mon, '-|', 'ip', '-n', $ns, '-o', 'monitor', 'address') or die "addr-monitor.pl: ip: $!\n";
$SIG{TERM} = $SIG{INT} = sub { kill 'TERM', $pid; waitpid $pid, 0; exit 0 };
print $log "ready\n";
while (my $line = <$mon>) {
    printf $log "%.6f %s", time, $line;
}
