#!/usr/bin/perl
#
# bounce-agree.pl - Tern's bounce parser against Sisimai, message by message.
#
# Purpose:      helper of bench/bounce-agree.sh (read its header for the
#               method and the reason -> category mapping, which is the
#               %MAP table below).  Arguments: the tern binary, then the
#               bounce files.  Prints the agreement figures and every
#               disagreement.
# Used by:      bench/bounce-agree.sh.
# Trust:        the files are only read, by Sisimai and by tern classify.
# Spool access: none.
# See:          common/dsnparse.h, Sisimai(3pm).
use strict;
use warnings;
use JSON::PP;
use Sisimai;

# Sisimai reason => PowerMTA categories accepted for it (first is the main).
my %MAP = (
    userunknown     => [qw(bad-mailbox)],
    hasmoved        => [qw(bad-mailbox inactive-mailbox)],
    filtered        => [qw(bad-mailbox policy-related inactive-mailbox)],
    hostunknown     => [qw(bad-domain routing-errors)],
    notaccept       => [qw(bad-domain routing-errors policy-related)],
    mailboxfull     => [qw(quota-issues)],
    exceedlimit     => [qw(quota-issues content-related)],
    systemfull      => [qw(quota-issues message-expired)],
    mesgtoobig      => [qw(content-related quota-issues policy-related)],
    suspend         => [qw(inactive-mailbox)],
    blocked         => [qw(spam-related policy-related)],
    spamdetected    => [qw(spam-related content-related)],
    policyviolation => [qw(policy-related content-related spam-related)],
    securityerror   => [qw(policy-related invalid-sender)],
    rejected        => [qw(invalid-sender policy-related)],
    norelaying      => [qw(relaying-issues)],
    virusdetected   => [qw(virus-related)],
    contenterror    => [qw(content-related)],
    expired         => [qw(message-expired)],
    networkerror    => [qw(routing-errors bad-connection no-answer-from-host
                           bad-domain message-expired)],
    toomanyconn     => [qw(policy-related bad-connection message-expired)],
    syntaxerror     => [qw(protocol-errors)],
    systemerror     => [qw(bad-configuration routing-errors other
                           protocol-errors message-expired)],
    mailererror     => [qw(other bad-configuration bad-mailbox)],
    onhold          => [qw(*)],
    undefined       => [qw(*)],
);

my ($tern, @files) = @ARGV;
my $json = JSON::PP->new->utf8(0);
my (%tern);
for (my $i = 0; $i < @files; $i += 50) {
    my @chunk = @files[$i .. ($i + 49 < $#files ? $i + 49 : $#files)];
    # tern names each file without a report on stderr: not wanted here
    open(my $err, '>&', \*STDERR) or die "dup: $!";
    open(STDERR, '>', '/dev/null') or die "/dev/null: $!";
    open(my $fh, '-|', $tern, 'classify', '--json', @chunk) or die "$tern: $!";
    open(STDERR, '>&', $err) or die "dup: $!";
    local $/;
    my $out = <$fh>;
    close($fh);
    $tern{$_->{file}} = $_ for @{ decode_json($out) };
}

my ($n_rs, $ok_rs, $n_cat, $ok_cat, $none, $arf_n, $arf_ok) = (0) x 7;
my @bad;
for my $f (@files) {
    my $s = eval { decode_json(Sisimai->dump($f)) } || [];
    my $t = $tern{$f} || { reports => [] };
    my @s = grep { $_->{reason} !~ /^(vacation|delivered)$/ } @$s;
    if (!@s) { $none++; next; }
    if ($s[0]{reason} eq 'feedback') {
        $arf_n++;
        my $a = $t->{arf} || {};
        # Sisimai's placeholder when the report names no recipient
        my $want = $s[0]{recipient} =~ /^undisclosed-recipient-in-headers@/
            ? undef : lc $s[0]{recipient};
        my $ok = ($a->{feedback_type} // '') eq $s[0]{feedbacktype} &&
            (!defined $want || lc($a->{original_recipient} // '') eq $want);
        $arf_ok++ if $ok;
        push @bad, sprintf("%s ARF: sisimai %s %s, tern %s %s", $f,
            $s[0]{feedbacktype}, $s[0]{recipient},
            $a->{feedback_type} // '-', $a->{original_recipient} // '-')
            unless $ok;
        next;
    }
    my %byr = map { lc($_->{recipient}) => $_ } @{ $t->{reports} };
    my ($rs, $cat) = (1, 1);
    my @why;
    for my $r (@s) {
        my $x = $byr{lc $r->{recipient}};
        if (!$x || $x->{status} ne $r->{deliverystatus}) {
            $rs = 0;
            push @why, sprintf("rcpt/status: sisimai %s %s, tern %s",
                $r->{recipient}, $r->{deliverystatus},
                join(' ', map { "$_->{recipient} $_->{status}" }
                    @{ $t->{reports} }) || '-');
        }
        my $acc = $MAP{ $r->{reason} } || ['other'];
        if (!$x || !(grep { $_ eq '*' || $_ eq $x->{category} } @$acc)) {
            $cat = 0;
            push @why, sprintf("category: sisimai %s -> %s, tern %s",
                $r->{reason},
                join('|', @$acc), $x ? $x->{category} : '-');
        }
    }
    my %srs = map { lc($_->{recipient}) => 1 } @s;
    my @extra = grep { !$srs{ lc $_->{recipient} } } @{ $t->{reports} };
    if (@extra) {
        $rs = 0;
        push @why, "tern extra: " . join(' ', map { $_->{recipient} } @extra);
    }
    $n_rs++; $ok_rs += $rs; $n_cat++; $ok_cat += $cat;
    push @bad, "$f " . join('; ', @why) if @why;
}
printf "messages: %d (Sisimai found no bounce in %d, ARF %d)\n",
    scalar(@files), $none, $arf_n;
printf "recipient+status agreement: %d/%d = %.1f%% (target 95%%)\n",
    $ok_rs, $n_rs, $n_rs ? 100 * $ok_rs / $n_rs : 0;
printf "category agreement:         %d/%d = %.1f%% (target 90%%)\n",
    $ok_cat, $n_cat, $n_cat ? 100 * $ok_cat / $n_cat : 0;
printf "ARF type+original recipient: %d/%d\n", $arf_ok, $arf_n;
print "disagreements:\n";
print "  $_\n" for @bad;
