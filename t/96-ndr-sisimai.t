#!/usr/bin/perl
# 96-ndr-sisimai.t - the bounces Tern writes, read by Sisimai.
#
# Purpose:      runs build/t/test_dsngen with DSNGEN_OUT set to a
#               temporary directory, so it writes sample reports made by
#               common/dsngen.c, and parses each with Sisimai (an
#               independent bounce parser): the recipients, their
#               status (5.1.1, 5.2.2), reason and action must come back
#               as generated, from the RFC 3464 part, and a reply with
#               CR/LF in it must not add a recipient or change a status.
#               Skipped ("1..0 # SKIP") when Sisimai (Debian package
#               libsisimai-perl) is not installed.  Uses Sisimai->rise
#               (Sisimai 5) or Sisimai->make (4.x).
# Used by:      prove (make check).
# Trust:        reads only files the test binary wrote.
# Spool access: none (one temporary directory, removed at exit).
# See:          common/dsngen.h, t/unit/test_dsngen.c, RFC 3464.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;
use File::Temp qw(tempdir);
use Test::More;

$SIG{ALRM} = sub { BAIL_OUT("timed out after 120s") };
alarm(120);

unless (eval { require Sisimai; 1 }) {
	plan skip_all => "Sisimai not installed (Debian package libsisimai-perl)";
}

my $root = dirname(dirname(File::Spec->rel2abs(__FILE__)));
my $build = $ENV{TERN_BUILD} // 'build';
$build = "$root/$build" unless File::Spec->file_name_is_absolute($build);
my $bin = "$build/t/test_dsngen";

# file => [ [recipient, status, reason], ... ]
my %want = (
	'ndr-511.eml' => [ [ 'user1@example.net', '5.1.1', 'userunknown' ] ],
	'ndr-522.eml' => [ [ 'full@example.org', '5.2.2', 'mailboxfull' ] ],
	'ndr-multi.eml' => [ [ 'user1@example.net', '5.1.1', 'userunknown' ],
	    [ 'full@example.org', '5.2.2', 'mailboxfull' ] ],
	'ndr-full.eml' => [ [ 'user1@example.net', '5.1.1', 'userunknown' ] ],
	'ndr-hostile.eml' => [ [ 'victim@example.com', '5.1.1',
	    'userunknown' ] ],
);

ok(-x $bin, "$bin built") or BAIL_OUT("run make first");
my $dir = tempdir("tern-96-XXXXXX", TMPDIR => 1, CLEANUP => 1);
{
	local $ENV{DSNGEN_OUT} = $dir;
	my $out = qx{timeout 60 "$bin" 2>&1 </dev/null};
	is($?, 0, "test_dsngen ran and wrote its samples")
	    or diag($out);
}

# parse - Sisimai's reports for one file: [[address, status, reason,
# action, decoder (smtpagent in 4.x, decodedby in 5)], ...]
sub parse {
	my ($path) = @_;
	my $v = Sisimai->can('rise') ? Sisimai->rise($path) :
	    Sisimai->make($path);
	return [ map { [ $_->recipient->address, $_->deliverystatus,
	    $_->reason, $_->action,
	    $_->can('decodedby') ? $_->decodedby : $_->smtpagent ] }
	    @{ $v // [] } ];
}

for my $f (sort keys %want) {
	my $path = "$dir/$f";
	ok(-s $path, "$f written") or next;
	my $got = parse($path);
	my $w = $want{$f};
	is(scalar(@$got), scalar(@$w), "$f: " . scalar(@$w) .
	    " recipient(s)");
	for my $i (0 .. $#$w) {
		my $g = $got->[$i] // [ '', '', '', '', '' ];
		is($g->[0], $w->[$i][0], "$f: recipient $w->[$i][0]");
		is($g->[1], $w->[$i][1], "$f: status $w->[$i][1]");
		is($g->[2], $w->[$i][2], "$f: reason $w->[$i][2]");
		is($g->[3], 'failed', "$f: action failed");
		is($g->[4], 'RFC3464', "$f: read from the RFC 3464 part");
	}
}

done_testing();
