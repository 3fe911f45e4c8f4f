/*
 * test_shaperd_builtin.c - unit tests for shaperd/builtin.c.
 *
 * Purpose:      the built-in reply rules and MX rollup table are sound
 *               data: every regex compiles as POSIX ERE, every action and
 *               threshold is valid, every rule says why and where the
 *               provider published it; published provider replies hit
 *               the intended rule (first match wins) and ordinary
 *               per-recipient or per-message replies hit none; MX host
 *               names roll up as intended (fnmatch, first match wins).
 * Used by:      t/00-unit.t (build/t/test_shaperd_builtin).
 * Trust:        test code.
 * Spool access: none.
 * See:          shaperd/builtin.h, tern.yaml(5).
 */
#include <fnmatch.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "builtin.h"

struct want_rule {
	const char	*reply;
	const char	*provider;
	const char	*action;
};

/* Replies as providers publish them, normalised to one line. */
static const struct want_rule hits[] = {
	{ "421 4.7.28 [192.0.2.1] Our system has detected an unusual rate "
	    "of unsolicited mail originating from your IP address. To "
	    "protect our users from spam, mail sent from your IP address has "
	    "been temporarily rate limited. Please visit "
	    "https://support.google.com/mail/?p=UnsolicitedRateLimitError to "
	    "review our Bulk Email Senders Guidelines. "
	    "a1si123456.7 - gsmtp", "google", "backoff" },
	{ "421 4.7.0 [192.0.2.1 15] Our system has detected an unusual rate "
	    "of unsolicited mail originating from your IP address. To "
	    "protect our users from spam, mail sent from your IP address has "
	    "been temporarily rate limited. Please visit "
	    "https://support.google.com/mail/?p=UnsolicitedRateLimitError to "
	    "review our Bulk Email Senders Guidelines. p4si352.9 - gsmtp",
	    "google", "backoff" },
	{ "421 4.7.28 Gmail has detected an unusual rate of unsolicited "
	    "mail originating from your DKIM domain [example.com]. To "
	    "protect our users from spam, mail sent from your domain has "
	    "been temporarily rate limited. - gsmtp", "google", "backoff" },
	{ "550 5.7.1 [192.0.2.1 1] Our system has detected an unusual rate "
	    "of unsolicited mail originating from your IP address. To "
	    "protect our users from spam, mail sent from your IP address has "
	    "been blocked. Please visit "
	    "https://support.google.com/mail/?p=UnsolicitedIPError to review "
	    "our Bulk Email Senders Guidelines. k33si111.22 - gsmtp",
	    "google", "suspend" },
	{ "421 4.7.0 Try again later, closing connection. (EHLO) "
	    "x12si345.6 - gsmtp", "google", "backoff" },
	{ "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred "
	    "due to unexpected volume or user complaints - 4.16.55.1; see "
	    "https://postmaster.yahooinc.com/error-codes", "yahoo",
	    "suspend" },
	{ "421 4.7.1 [TS03] All messages from 192.0.2.1 will be "
	    "permanently deferred; Retrying will NOT succeed. See "
	    "https://help.yahoo.com/kb/postmaster/SLN3436.html", "yahoo",
	    "suspend" },
	{ "553 5.7.2 [TSS09] All messages from 192.0.2.1 will be "
	    "permanently deferred; Retrying will NOT succeed. See "
	    "https://postmaster.yahooinc.com/error-codes", "yahoo",
	    "suspend" },
	{ "421 4.7.0 [TS01] Messages from 192.0.2.1 temporarily deferred "
	    "due to user complaints - 4.16.55.1; see "
	    "http://postmaster.yahoo.com/421-ts01.html", "yahoo",
	    "backoff" },
	{ "421 4.7.0 [TS02] Messages from 192.0.2.1 temporarily deferred - "
	    "4.16.56.1", "yahoo", "backoff" },
	{ "451 4.7.1 [GL01] Message from (192.0.2.1) temporarily deferred - "
	    "4.16.50", "yahoo", "backoff" },
	{ "421 Message from (192.0.2.1) temporarily deferred - 4.16.50",
	    "yahoo", "backoff" },
	{ "421 HVU:B1 mtaig-mbe02.mx.aol.com 192.0.2.1 temporarily "
	    "blocked due to unusual volume", "aol", "backoff" },
	{ "421 DYN:T1 mtaig-mbe02.mx.aol.com 192.0.2.1 temporarily rate "
	    "limited", "aol", "backoff" },
	{ "451 4.7.650 The mail server [192.0.2.1] has been temporarily "
	    "rate limited due to IP reputation. For e-mail delivery "
	    "information, see https://aka.ms/postmaster (S775) "
	    "[Name=Protocol Filter Agent][AGT=PFA]", "microsoft",
	    "backoff" },
	{ "451 4.7.651 The mail server [192.0.2.1] has been temporarily "
	    "rate limited due to IP reputation. For e-mail delivery "
	    "information, see https://postmaster.live.com (S3114)",
	    "microsoft", "backoff" },
	{ "451 4.7.500 Server busy. Please try again later from "
	    "[192.0.2.1]. (S77719) "
	    "[FR2DEU01FT008.eop-deu01.prod.protection.outlook.com]",
	    "microsoft", "backoff" },
	{ "421 RP-001 (SNT0-MC2-F19) Unfortunately, some messages from "
	    "192.0.2.1 weren't sent. Please try again. We have limits for "
	    "how many messages can be sent per hour and per day.",
	    "microsoft", "backoff" },
	{ "421 4.7.0 RP-002 The mail server IP connecting to Outlook.com "
	    "server has exceeded the rate limit allowed on this connection.",
	    "microsoft", "backoff" },
	{ "421 4.7.0 RP-003 The mail server IP connecting to Outlook.com "
	    "server has exceeded the connection limit allowed.",
	    "microsoft", "disconnect" },
	{ "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't "
	    "sent. Please contact your Internet service provider since part "
	    "of their network is on our block list (S3150). You can also "
	    "refer your provider to "
	    "http://mail.live.com/mail/troubleshooting.aspx#errors. "
	    "[DB3EUR04FT007.eop-eur04.prod.protection.outlook.com]",
	    "microsoft", "suspend" },
	{ "550 5.7.1 Service unavailable, Client host [192.0.2.1] blocked "
	    "using Spamhaus. To request removal from this list see "
	    "https://www.spamhaus.org/query/ip/192.0.2.1 (AS3130). "
	    "[BN8NAM11FT066.eop-nam11.prod.protection.outlook.com]",
	    "microsoft", "suspend" },
	{ "550 SC-001 (COL004-MC4F40) Unfortunately, messages from "
	    "192.0.2.1 weren't sent. Please contact your Internet service "
	    "provider since part of their network is on our block list.",
	    "microsoft", "suspend" },
	{ "421 4.7.1 Messages to someone@icloud.com deferred due to "
	    "excessive volume. Try again later - "
	    "https://support.apple.com/en-us/HT204137", "apple", "backoff" },
	{ "421 4.1.0 [192.0.2.1] Throttled - try again later. Please see "
	    "https://postmaster.comcast.net/smtp-error-codes.php#RL000001",
	    "comcast", "backoff" },
	{ "421 imta10.westchester.pa.mail.comcast.net comcast Too many "
	    "sessions opened", "comcast", "disconnect" },
	{ "421 web.de (mxweb113) Nemesis ESMTP Service not available "
	    "Service unavailable Reject due to policy restrictions Please "
	    "try again later. Too many messages have been received in a "
	    "short period of time. Please try again in a few hours and "
	    "reduce the sending rate.", "gmx", "backoff" },
	{ "421 4.7.0 mx.example.net Error: too many connections from "
	    "192.0.2.1", "generic", "disconnect" },
	{ "421 4.3.2 The maximum number of concurrent server connections "
	    "has exceeded a limit, closing transmission channel", "generic",
	    "disconnect" },
	{ "421 4.4.5 Server busy, try again later. (mx.google.com) "
	    "g4sm556.5 - gsmtp", "generic", "backoff" },
	{ "421 mtaig-mbe02.mx.aol.com Service unavailable - try again "
	    "later", "generic", "backoff" },
};

/* Ordinary replies: about one recipient, one message, or nothing. */
static const char *misses[] = {
	"250 2.0.0 OK 1700000000 a1si123456.7 - gsmtp",
	"250 2.0.0 Ok: queued as 4ABC123DEF",
	"550 5.1.1 The email account that you tried to reach does not "
	    "exist. Please try double-checking the recipient's email address "
	    "for typos or unnecessary spaces. - gsmtp",
	"550 5.1.1 <someone@example.com>: Recipient address rejected: "
	    "User unknown in virtual mailbox table",
	"552 5.2.2 The email account that you tried to reach is over "
	    "quota. - gsmtp",
	"452 4.2.2 The recipient's inbox is out of storage space. - gsmtp",
	"451 4.3.0 Temporary local problem - please try later",
	"451 4.3.0 Mail server temporarily rejected message. - gsmtp",
	"450 4.2.0 <someone@example.com>: Recipient address rejected: "
	    "Greylisted, please try again later",
	"450 4.2.1 The user you are trying to contact is receiving mail at "
	    "a rate that prevents additional messages from being delivered. "
	    "Please resend your message at a later time. - gsmtp",
	"550 5.7.26 Unauthenticated email from example.com is not accepted "
	    "due to domain's DMARC policy. Please contact the administrator "
	    "of example.com domain if this was a legitimate mail. - gsmtp",
	"421 4.7.26 This mail has been rate limited because it is "
	    "unauthenticated. Gmail requires all senders to authenticate "
	    "with either SPF or DKIM. - gsmtp",
	"550 5.7.1 [192.0.2.1] Gmail has detected that this message is "
	    "likely unsolicited mail. To reduce the amount of spam sent to "
	    "Gmail, this message has been blocked. - gsmtp",
	"554 5.7.1 Message rejected as spam by Content Filtering.",
	"554 5.7.9 Message not accepted for policy reasons. See "
	    "https://senders.yahooinc.com/error-codes",
	"550 5.7.1 [CS01] Message rejected due to local policy. Please "
	    "visit https://support.apple.com/en-us/HT204137",
	"421 4.7.0 TLS required for RCPT domain, closing connection. "
	    "- gsmtp",
	"421 4.4.2 Timeout - closing connection. - gsmtp",
	"554 5.4.7 [internal] message timeout",
	"550 5.4.1 Recipient address rejected: Access denied. "
	    "[AM0EUR02FT011.eop-EUR02.prod.protection.outlook.com]",
};

struct want_rollup {
	const char	*host;
	const char	*name;		/* NULL: no rollup */
};

static const struct want_rollup rollups[] = {
	{ "gmail-smtp-in.l.google.com", "google.rollup" },
	{ "alt1.gmail-smtp-in.l.google.com", "google.rollup" },
	{ "aspmx.l.google.com", "google.rollup" },
	{ "alt4.aspmx.l.google.com", "google.rollup" },
	{ "smtp.google.com", "google.rollup" },
	{ "aspmx2.googlemail.com", "google.rollup" },
	{ "example-com.mail.protection.outlook.com", "outlook.rollup" },
	{ "hotmail-com.olc.protection.outlook.com", "hotmail.rollup" },
	{ "eur.olc.protection.outlook.com", "hotmail.rollup" },
	{ "mta5.am0.yahoodns.net", "yahoo.rollup" },
	{ "mx-aol.mail.gm0.yahoodns.net", "yahoo.rollup" },
	{ "mx01.mail.icloud.com", "icloud.rollup" },
	{ "in1-smtp.messagingengine.com", "fastmail.rollup" },
	{ "mx.zoho.com", "zoho.rollup" },
	{ "mx.zoho.eu", "zoho-eu.rollup" },
	{ "mx.example.org", NULL },
	{ "google.com", NULL },
	{ "mx.google.com.example.net", NULL },
	{ "mx0a-00123456.pphosted.com", NULL },
	{ "eu-smtp-inbound-1.mimecast.com", NULL },
	{ "mx00.gmx.net", NULL },
};

static regex_t	 re[256];

/* first_rule - index of the first rule matching reply, or -1 */
static int
first_rule(const char *reply)
{
	size_t	 i;

	for (i = 0; i < nbuiltin_rules; i++)
		if (regexec(&re[i], reply, 0, NULL, 0) == 0)
			return (int)i;
	return -1;
}

/* first_rollup - the rollup name for an MX host, or NULL */
static const char *
first_rollup(const char *host)
{
	size_t	 i;

	for (i = 0; i < nbuiltin_rollups; i++)
		if (fnmatch(builtin_rollups[i].mx_glob, host, 0) == 0)
			return builtin_rollups[i].name;
	return NULL;
}

static bool
valid_action(const char *a)
{
	return a != NULL && (strcmp(a, "backoff") == 0 ||
	    strcmp(a, "suspend") == 0 || strcmp(a, "disconnect") == 0 ||
	    strcmp(a, "bounce") == 0);
}

static bool
valid_rollup_name(const char *n)
{
	size_t	 len, i;

	if (n == NULL || (len = strlen(n)) <= strlen(".rollup"))
		return false;
	for (i = 0; i < len; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') ||
		    (n[i] >= '0' && n[i] <= '9') || n[i] == '.' ||
		    n[i] == '-'))
			return false;
	return strcmp(n + len - strlen(".rollup"), ".rollup") == 0;
}

static bool
lowercase(const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			return false;
	return s != NULL;
}

static void
check_rules(void)
{
	const struct builtin_rule *r;
	char	 err[256];
	size_t	 i;
	int	 rc;

	ok(nbuiltin_rules > 0 && nbuiltin_rules <= sizeof(re) / sizeof(re[0]),
	    "%zu rules", nbuiltin_rules);
	if (nbuiltin_rules > sizeof(re) / sizeof(re[0]))
		bail_out("more rules than the test can hold");
	for (i = 0; i < nbuiltin_rules; i++) {
		r = &builtin_rules[i];
		rc = regcomp(&re[i], r->regex != NULL ? r->regex : "",
		    REG_EXTENDED | REG_ICASE | REG_NOSUB);
		if (rc != 0) {
			regerror(rc, &re[i], err, sizeof(err));
			diag("rule %zu: %s", i, err);
			bail_out("a built-in regex does not compile");
		}
		ok(r->regex != NULL && *r->regex != '\0',
		    "rule %zu (%s) compiles", i, r->provider);
		ok(valid_action(r->action), "rule %zu action %s", i,
		    r->action != NULL ? r->action : "NULL");
		ok(r->provider != NULL && *r->provider != '\0' &&
		    lowercase(r->provider), "rule %zu has a provider", i);
		ok(r->why != NULL && *r->why != '\0', "rule %zu has a why", i);
		ok(r->source != NULL && (strncmp(r->source, "https://", 8) == 0 ||
		    strncmp(r->source, "http://", 7) == 0),
		    "rule %zu has a source URL", i);
		ok(r->after_n <= 1 || r->after_window > 0,
		    "rule %zu after %u/%llus", i, r->after_n,
		    (unsigned long long)r->after_window);
		ok(strcmp(r->action, "disconnect") != 0 || r->for_secs == 0,
		    "rule %zu: no duration on disconnect", i);
	}
}

static void
check_hits(void)
{
	bool	 used[sizeof(re) / sizeof(re[0])] = { false };
	size_t	 i;
	int	 k;

	ok(sizeof(hits) / sizeof(hits[0]) >= 15, "at least 15 provider "
	    "replies");
	for (i = 0; i < sizeof(hits) / sizeof(hits[0]); i++) {
		k = first_rule(hits[i].reply);
		if (!ok(k >= 0, "hit %zu matches a rule", i)) {
			diag("    reply %.70s...", hits[i].reply);
			skip(2, "no rule matched");
			continue;
		}
		used[k] = true;
		is_str(builtin_rules[k].provider, hits[i].provider,
		    "hit %zu provider (rule %d)", i, k);
		is_str(builtin_rules[k].action, hits[i].action,
		    "hit %zu action (rule %d)", i, k);
	}
	/* Every rule is shown working on a reply it was written for. */
	for (i = 0; i < nbuiltin_rules; i++)
		ok(used[i], "rule %zu (%s) is the first match of some "
		    "provider reply", i, builtin_rules[i].provider);
}

static void
check_misses(void)
{
	size_t	 i;
	int	 k;

	ok(sizeof(misses) / sizeof(misses[0]) >= 10, "at least 10 "
	    "ordinary replies");
	for (i = 0; i < sizeof(misses) / sizeof(misses[0]); i++) {
		k = first_rule(misses[i]);
		if (!is_int(k, -1, "miss %zu matches no rule", i))
			diag("    reply %.70s... hit rule %d (%s)", misses[i],
			    k, builtin_rules[k].provider);
	}
}

static void
check_rollups(void)
{
	size_t	 i;

	ok(nbuiltin_rollups > 0, "%zu rollups", nbuiltin_rollups);
	for (i = 0; i < nbuiltin_rollups; i++) {
		ok(valid_rollup_name(builtin_rollups[i].name),
		    "rollup %zu name %s", i, builtin_rollups[i].name);
		ok(builtin_rollups[i].mx_glob != NULL &&
		    *builtin_rollups[i].mx_glob != '\0' &&
		    lowercase(builtin_rollups[i].mx_glob),
		    "rollup %zu glob %s is lowercase", i,
		    builtin_rollups[i].mx_glob);
	}
	for (i = 0; i < sizeof(rollups) / sizeof(rollups[0]); i++)
		is_str(first_rollup(rollups[i].host), rollups[i].name,
		    "MX %s", rollups[i].host);
}

int
main(void)
{
	size_t	 i;

	check_rules();
	check_hits();
	check_misses();
	check_rollups();
	for (i = 0; i < nbuiltin_rules; i++)
		regfree(&re[i]);
	return done_testing();
}
