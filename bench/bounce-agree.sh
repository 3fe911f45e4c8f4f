#!/bin/sh
#
# bounce-agree.sh - how often Tern's bounce parser agrees with Sisimai.
#
# Purpose:      runs "tern classify --json" and Debian's Sisimai
#               (libsisimai-perl) over every file of the bounce corpus
#               (default ../shared/corpus/bounces) and prints:
#                 - recipient+status agreement: a message agrees when
#                   every bounce Sisimai reports in it (vacation and
#                   delivered records left out) has a Tern report with
#                   the same recipient (case-insensitive) and the same
#                   enhanced status code, and Tern reports no recipient
#                   that Sisimai does not;
#                 - category agreement: the same messages, where each
#                   Tern category must be one that the mapping below
#                   accepts for Sisimai's reason;
#                 - ARF: feedback type and original recipient equal
#                   (where Sisimai writes its placeholder
#                   undisclosed-recipient-in-headers@..., the report
#                   names none, and only the type is compared);
#                 - every disagreement, one line per message.
#               Messages where Sisimai finds nothing are counted apart.
# Used by:      developers (benchmarks are not tests).
# Trust:        only reads the corpus.
# Spool access: none.
# See:          bench/bounce-agree.pl, common/dsnparse.h,
#               common/bouncecat.c.
#
# Sisimai reason -> PowerMTA categories accepted (kept in step with %MAP
# in bounce-agree.pl):
#   userunknown      bad-mailbox
#   hasmoved         bad-mailbox, inactive-mailbox
#   filtered         bad-mailbox, policy-related, inactive-mailbox
#   hostunknown      bad-domain, routing-errors (5.4.4: no MX, no address)
#   notaccept        bad-domain, routing-errors, policy-related (null MX)
#   mailboxfull      quota-issues
#   exceedlimit      quota-issues, content-related
#   systemfull       quota-issues, message-expired
#   mesgtoobig       content-related, quota-issues, policy-related
#   suspend          inactive-mailbox
#   blocked          spam-related, policy-related (client IP/host refused)
#   spamdetected     spam-related, content-related
#   policyviolation  policy-related, content-related, spam-related
#   securityerror    policy-related, invalid-sender
#   rejected         invalid-sender, policy-related (envelope sender)
#   norelaying       relaying-issues
#   virusdetected    virus-related
#   contenterror     content-related
#   expired          message-expired, no-answer-from-host, bad-connection
#                    (Sisimai names every "Action: delayed" report expired,
#                    whatever held it up; a delay because the host did not
#                    answer or dropped the connection is PowerMTA's
#                    no-answer-from-host or bad-connection)
#   networkerror     routing-errors, bad-connection, no-answer-from-host,
#                    bad-domain, message-expired
# message-expired is accepted for the temporary reasons (networkerror,
# systemerror, systemfull, toomanyconn): when a temporary failure ends a
# message's life (Action: failed with a 4.x.x status), Sisimai names the
# last cause and PowerMTA the expiry.
#   toomanyconn      policy-related, bad-connection, message-expired
#   syntaxerror      protocol-errors
#   systemerror      bad-configuration, routing-errors, other,
#                    protocol-errors, message-expired
#   mailererror      other, bad-configuration, bad-mailbox
#   onhold           any (Sisimai could not decide)
#   undefined        any
#   feedback         (ARF: compared on feedback type and recipient)
#   vacation, delivered  (not bounces: left out)
#
# Sisimai plainly wrong against the file: %WRONG in bounce-agree.pl (13
# messages, each with what the file says; marked in the output, and a
# second set of figures leaves them out):
#   - OpenSMTPD (7): its module reads only the text part, so a delay
#     notice with "Action: delayed, Status: 4.4.7" (or 4.0.0) comes out
#     as a permanent 5.0.947/5.0.944; and Sisimai reads enhanced codes
#     with a one-digit detail only, so "550 5.7.26", "550 5.7.25" become
#     5.0.901 (onhold) and "421 4.7.0" a pseudo 4.0.971;
#   - Sun Messaging Server: "Status: 5.1.10" (RFC 7505 null MX) becomes
#     a pseudo 5.0.932, for the same one-digit reason;
#   - Postfix and Sendmail DSNs with two recipient blocks (3): Sisimai
#     gives one recipient the Status/Diagnostic of the other block;
#   - a recipient that differs from Final-Recipient (2): Domino (another
#     domain) and Office 365 (read from a quoted-printable-cut HTML line).
#
# Remaining disagreement classes where Sisimai is not plainly wrong but
# Tern does not follow it (see the output for the current list):
#   - 5.0.910 (filtered) v 5.0.911 (userunknown) for a user-unknown reply
#     without an enhanced code and without the SMTP command it answered:
#     Sisimai's core says "filtered" unless the command was RCPT, but
#     several of its MTA modules (Domino, IMail, McAfee, Verizon) set
#     userunknown for the same words, and an identical Verizon/James text
#     gets either.  Tern says 5.0.911 unless the bounce names DATA as the
#     command ("after end of data", "in reply to end of DATA command",
#     m-FILTER's "SMTP command: DATA"): then 5.0.910, as Sisimai does;
#   - Exim replies to MAIL FROM: Sisimai writes 5.0.901/4.0.901 (its
#     onhold code) while naming the reason rejected or blocked;
#   - "retry timeout exceeded": Sisimai writes 4.0.947 for Exim and
#     5.0.947 for GMX (also Exim) on the same text; Tern 4.0.947;
#   - Exchange with two replies (expiry 4.4.7 and an earlier 4.4.1):
#     Sisimai takes the last, Tern the first (the expiry);
#   - an X-Failed-Recipients header that names another address than the
#     text (an anonymised sample): Tern trusts the header;
#   - category only: Sisimai's reasons from its per-provider tables
#     (Orange, Tencent, Zoho, Cox, Spectrum, MessageLabs: the reply's
#     words say another thing), and texts Tern reads otherwise.

here=$(cd "$(dirname "$0")" && pwd) || exit 1
root=$(dirname "$here")
corpus=${1:-$root/../shared/corpus/bounces}
tern=${TERN:-$root/build/sbin/tern}

if ! perl -MSisimai -e 1 2>/dev/null; then
	echo "bounce-agree: Sisimai missing: apt-get install libsisimai-perl" >&2
	exit 1
fi
[ -x "$tern" ] || { echo "bounce-agree: build $tern first (make)" >&2; exit 1; }
[ -d "$corpus" ] || { echo "bounce-agree: no corpus at $corpus" >&2; exit 1; }
exec perl "$here/bounce-agree.pl" "$tern" $(ls "$corpus"/*.eml | sort)
