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
#   expired          message-expired
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
