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
    expired         => [qw(message-expired no-answer-from-host bad-connection)],
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

# Messages where Sisimai is plainly wrong against the file (checked by
# hand; see bounce-agree.sh): listed apart, and left out of the second
# set of figures.  Keyed by file name; the reason says what the file says.
my %WRONG = (
    'lhost-opensmtpd-06.eml' => 'DSN: Action delayed, Status 4.4.7; Sisimai 5.0.947 (ignores the delivery-status part)',
    'lhost-opensmtpd-15.eml' => 'DSN: Action delayed, Status 4.4.7; Sisimai 5.0.947 (ignores the delivery-status part)',
    'lhost-opensmtpd-16.eml' => 'DSN: Action delayed, Status 4.4.7; Sisimai 5.0.947 (ignores the delivery-status part)',
    'lhost-opensmtpd-12.eml' => 'DSN: Action delayed, Status 4.0.0, "only a temporary failure"; Sisimai 5.0.944 (permanent)',
    'lhost-opensmtpd-13.eml' => 'reply "421 4.7.0" under Status 4.0.0; Sisimai pseudo 4.0.971 (drops x.y.0 codes)',
    'lhost-opensmtpd-11.eml' => 'reply "550 5.7.26"; Sisimai 5.0.901 onhold (reads one-digit details only)',
    'lhost-opensmtpd-14.eml' => 'reply "550 5.7.25"; Sisimai 5.0.901 onhold (reads one-digit details only)',
    'lhost-messagingserver-10.eml' => 'Status 5.1.10 (RFC 7505 null MX); Sisimai 5.0.932 (reads one-digit details only)',
    'lhost-postfix-02.eml' => 'two DSN blocks, filtered@ has Status 5.2.1; Sisimai gives it the other block\'s 5.1.1 reply',
    'lhost-postfix-13.eml' => 'two DSN blocks, kijitora@ has Status 5.2.1 User Unknown; Sisimai gives it the other block\'s 5.2.2',
    'lhost-sendmail-02.eml' => 'two DSN blocks, userunknown@ has Status 5.1.1; Sisimai gives it 5.2.1 from the other',
    'lhost-domino-03.eml' => 'Final-Recipient kijitora@neko.example.org; Sisimai names ...example.com',
    'lhost-office365-04.eml' => 'Final-Recipient otsu-sakaba-hunter-neko-...; Sisimai reads a local part cut by QP in the HTML part',
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
my ($w_n, $w_rs, $w_cat) = (0) x 3;     # the same, %WRONG left out
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
    (my $base = $f) =~ s{.*/}{};
    if ($WRONG{$base}) {
        push @why, "[Sisimai wrong: $WRONG{$base}]";
    } else {
        $w_n++; $w_rs += $rs; $w_cat += $cat;
    }
    push @bad, "$f " . join('; ', @why) if @why;
}
printf "messages: %d (Sisimai found no bounce in %d, ARF %d)\n",
    scalar(@files), $none, $arf_n;
printf "recipient+status agreement: %d/%d = %.1f%% (target 95%%)\n",
    $ok_rs, $n_rs, $n_rs ? 100 * $ok_rs / $n_rs : 0;
printf "category agreement:         %d/%d = %.1f%% (target 90%%)\n",
    $ok_cat, $n_cat, $n_cat ? 100 * $ok_cat / $n_cat : 0;
printf "ARF type+original recipient: %d/%d\n", $arf_ok, $arf_n;
printf "Sisimai plainly wrong against the file: %d (listed below, marked)\n",
    $n_rs - $w_n;
printf "  without them: recipient+status %d/%d = %.1f%%, category %d/%d = " .
    "%.1f%%\n", $w_rs, $w_n, $w_n ? 100 * $w_rs / $w_n : 0, $w_cat, $w_n,
    $w_n ? 100 * $w_cat / $w_n : 0;
print "disagreements:\n";
print "  $_\n" for @bad;
