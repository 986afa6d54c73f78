#!/usr/bin/perl
# tests/interop/hmp.pl: runs HMP commands through a QEMU QMP socket (human-monitor-command) and prints their output; needs only perl-base.
#
# Usage: hmp.pl QMP_SOCKET COMMAND...   ("quit" is sent as the QMP quit command)
use strict;
use warnings;
use IO::Socket::UNIX;

my ($path, @cmds) = @ARGV;
die "usage: hmp.pl QMP_SOCKET COMMAND...\n" unless defined $path && @cmds;
$SIG{ALRM} = sub { die "hmp.pl: no answer from QEMU within 30 s\n" };
alarm 30;
my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $path)
    or die "hmp.pl: cannot connect to $path: $!\n";
$s->autoflush(1);

# The next line that answers a command (events are skipped).
sub answer {
	while (my $l = <$s>) {
		return $l if $l =~ /^\{"(return|error)"/;
	}
	die "hmp.pl: QEMU closed the QMP connection\n";
}

my $greeting = <$s>;
die "hmp.pl: no QMP greeting\n" unless defined $greeting && $greeting =~ /"QMP"/;
print $s qq({"execute":"qmp_capabilities"}\n);
answer();
for my $c (@cmds) {
	if ($c eq 'quit') {
		print $s qq({"execute":"quit"}\n);
		answer();
		next;
	}
	(my $q = $c) =~ s/(["\\])/\\$1/g;
	print $s qq({"execute":"human-monitor-command","arguments":{"command-line":"$q"}}\n);
	my $r = answer();
	die "hmp.pl: $c: $r" if $r =~ /^\{"error"/;
	$r =~ /^\{"return":\s*"(.*)"\}\s*$/s or die "hmp.pl: unexpected answer to $c: $r";
	my $out = $1;
	$out =~ s/\\r//g;
	$out =~ s/\\n/\n/g;
	$out =~ s/\\"/"/g;
	$out =~ s/\\\\/\\/g;
	print $out;
}
