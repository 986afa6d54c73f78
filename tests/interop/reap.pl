#!/usr/bin/perl
# tests/interop/reap.pl: runs a command as a child subreaper and records how each of its processes ends: a proxy's hand-over successors (orphaned when the helper that started them exits) come back to it, so their exit status can be judged; needs only perl-base.
#
# Usage: reap.pl FILE COMMAND [ARG...]
# The command inherits fds 0-2 only. FILE gets "start PID" for it, then "exit PID STATUS" for every
# process reaped (STATUS as the shell gives it: the exit code, or 128 + the signal). It exits 0 once
# no process is left.
use strict;
use warnings;
use IO::Handle;
use POSIX ();

my %SYS_prctl = (x86_64 => 157, aarch64 => 167);
my $PR_SET_CHILD_SUBREAPER = 36;

my ($file, @cmd) = @ARGV;
die "usage: reap.pl FILE COMMAND [ARG...]\n" unless defined $file && @cmd;
my $nr = $SYS_prctl{(POSIX::uname())[4]} or die "reap.pl: prctl's number on this machine is unknown\n";
open(my $out, '>', $file) or die "reap.pl: $file: $!\n"; # close-on-exec: the command inherits it not
$out->autoflush(1);
syscall($nr, $PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 or die "reap.pl: PR_SET_CHILD_SUBREAPER: $!\n";

my $pid = fork() // die "reap.pl: fork: $!\n";
if ($pid == 0) {
	# Only fds 0-2 go on, as a successor started by the proxy's helper gets only those and the state's:
	# the proxy's fds are its own, whatever its caller had open.
	opendir(my $dir, '/proc/self/fd') or die "reap.pl: /proc/self/fd: $!\n";
	my @fds = grep { /^\d+$/ && $_ > 2 } readdir $dir;
	closedir $dir;
	POSIX::close($_) for @fds;
	exec { $cmd[0] } @cmd or die "reap.pl: $cmd[0]: $!\n";
}
print $out "start $pid\n";
while ((my $p = waitpid(-1, 0)) > 0) {
	my $st = $? & 127 ? 128 + ($? & 127) : $? >> 8;
	print $out "exit $p $st\n";
}
exit 0;
