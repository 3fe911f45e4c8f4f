/*
 * builtin.c - Tern's built-in SMTP reply rules and MX rollup table.
 *
 * Purpose:      see builtin.h.  The rules encode what the providers
 *               publish about their throttling and blocking replies; the
 *               actions and durations are our choice.  Each regular
 *               expression is POSIX extended, matched case-insensitively
 *               (REG_EXTENDED|REG_ICASE|REG_NOSUB) against the reply
 *               normalised to one line, "CODE X.Y.Z text", so "^421[ -]"
 *               pins the basic code; none assumes an enhanced code where
 *               the provider does not send one (Outlook.com's RP-00x,
 *               AOL, Comcast).
 * Used by:      shaperd (rules), deliverd (rollups).
 * Trust:        constant data; what it is matched against is remote text.
 * Spool access: none.
 * See:          tern.yaml(5) smtp-pattern-builtin, mx-rollup-builtin.
 */
#include <stddef.h>
#include <stdint.h>

#include "builtin.h"

#define MINUTES(n)	((uint64_t)(n) * 60)
#define HOURS(n)	((uint64_t)(n) * 3600)

#define SRC_GOOGLE	"https://support.google.com/a/answer/3726730"
#define SRC_YAHOO	"https://senders.yahooinc.com/smtp-error-codes/"
#define SRC_AOL		"http://postmaster.info.aol.com/errors/"
#define SRC_OUTLOOK	"https://sendersupport.olc.protection.outlook.com/" \
			    "pm/troubleshooting.aspx"
#define SRC_EXO		"https://learn.microsoft.com/en-us/exchange/" \
			    "mail-flow-best-practices/" \
			    "non-delivery-reports-in-exchange-online/" \
			    "fix-error-code-451-4-7-500-699-asxxx-in-exchange-online"
#define SRC_APPLE	"https://support.apple.com/en-us/HT204137"
#define SRC_COMCAST	"https://postmaster.comcast.net/smtp-error-codes.php"
#define SRC_WEBDE	"https://postmaster.web.de/error-messages"
#define SRC_RFC5321	"https://www.rfc-editor.org/rfc/rfc5321#section-4.2.3"

/*
 * What is deliberately not here:
 *
 * - Replies about one recipient: Gmail's 450 4.2.1 "The user you are
 *   trying to contact is receiving mail too quickly / at a rate that
 *   prevents additional messages from being delivered", 452 4.2.2 out of
 *   storage, greylisting.  Slowing the whole queue does nothing for one
 *   busy mailbox; the recipient's own retry handles it.
 * - Replies about one message or one sender's authentication: Gmail's
 *   550 5.7.26 / 5.7.27 / 5.7.30 / 5.7.32 and the 421 4.7.26 / 4.7.27 /
 *   4.7.30 / 4.7.32 / 4.7.40 "rate limited because ... SPF / DKIM /
 *   DMARC" family, 550 5.7.1 "likely unsolicited mail", Yahoo's 554 5.7.9.
 *   A queue carries many senders' mail; one sender's DNS is fixed in DNS,
 *   not by throttling everyone else.  They bounce or retry per message.
 * - Replies about one destination domain of a rollup: Google's "421 4.7.0
 *   TLS required for RCPT domain" and "IP not in whitelist for RCPT
 *   domain" come from one Workspace customer's settings; acting on them
 *   would throttle every domain in google.rollup.
 * - Mail.ru and Yandex: we found no throttling replies they publish; the
 *   generic 421 rules at the end cover what they send.
 * - "bounce": no provider reply justifies bouncing a whole queue; an IP
 *   block holds mail (suspend) instead, so valid addresses are not
 *   recorded as hard bounces while the IP is being delisted.
 */
const struct builtin_rule builtin_rules[] = {
	/* --- Google (Gmail and Workspace) ------------------------------ */
	{
		"google",
		"^421[ -]4\\.7\\.(0|28) .*unusual rate of unsolicited mail "
		    "originating from your IP",
		"backoff", HOURS(1), 0, 0,
		"Gmail rate-limits this sending IP: unusual rate of "
		    "unsolicited mail from it",
		SRC_GOOGLE
	},
	/*
	 * The SPF-domain, DKIM-domain and URL-domain variants limit one
	 * sender's domain, not the IP: only when many come at once is the
	 * queue as a whole being throttled.
	 */
	{
		"google",
		"^421[ -]4\\.7\\.28 .*unusual rate of unsolicited mail",
		"backoff", HOURS(1), 10, MINUTES(10),
		"Gmail rate-limits a sender (SPF/DKIM) or URL domain for "
		    "unusual rate of unsolicited mail",
		SRC_GOOGLE
	},
	{
		"google",
		"^550[ -]5\\.7\\.1 .*unusual rate of unsolicited mail "
		    "originating from your IP address.*has been blocked",
		"suspend", HOURS(1), 0, 0,
		"Gmail blocks this sending IP for unusual rate of "
		    "unsolicited mail",
		SRC_GOOGLE
	},
	{
		"google",
		"^421[ -]4\\.7\\.0 .*try again later, closing connection",
		"backoff", MINUTES(30), 5, MINUTES(5),
		"Gmail refuses the session (too many connections or "
		    "commands, usually at HELO)",
		SRC_GOOGLE
	},

	/* --- Yahoo and AOL (AOL's MX are Yahoo's since 2018) ----------- */
	{
		"yahoo",
		"^4[0-9]{2}[ -].*\\[TSS?04\\]",
		"suspend", HOURS(1), 0, 0,
		"Yahoo defers all mail from this IP: unexpected volume or "
		    "user complaints",
		SRC_YAHOO
	},
	{
		"yahoo",
		"^4[0-9]{2}[ -].*\\[TS03\\]",
		"suspend", HOURS(4), 0, 0,
		"Yahoo: all messages from this IP will be permanently "
		    "deferred, retrying will not succeed",
		SRC_YAHOO
	},
	{
		"yahoo",
		"^5[0-9]{2}[ -].*\\[TSS09\\]",
		"suspend", HOURS(4), 0, 0,
		"Yahoo blocks this IP: all messages from it permanently "
		    "deferred",
		SRC_YAHOO
	},
	{
		"yahoo",
		"^4[0-9]{2}[ -].*\\[TS0[12]\\]",
		"backoff", HOURS(1), 0, 0,
		"Yahoo defers mail from this IP: unusual traffic or user "
		    "complaints",
		SRC_YAHOO
	},
	{
		"yahoo",
		"^4[0-9]{2}[ -].*\\[GL01\\]",
		"backoff", MINUTES(30), 0, 0,
		"Yahoo defers mail from this IP it does not know well yet "
		    "(greylisting)",
		SRC_YAHOO
	},
	{
		"yahoo",
		"^4[0-9]{2}[ -].*temporarily deferred - 4\\.16\\.5[0-9]",
		"backoff", HOURS(1), 0, 0,
		"Yahoo defers mail from this IP: unusual traffic or user "
		    "complaints (4.16.5x)",
		SRC_YAHOO
	},
	{
		"aol",
		"^421[ -].*(HVU|DYN|CON|RLY):[A-Z][0-9]",
		"backoff", HOURS(1), 0, 0,
		"AOL (legacy MX) limits this IP: unusual volume, rate or "
		    "complaint thresholds",
		SRC_AOL
	},

	/* --- Microsoft (Outlook.com / Hotmail and Exchange Online) ----- */
	{
		"microsoft",
		"^4[0-9]{2}[ -](4\\.7\\.65[01] |.*temporarily rate limited "
		    "due to IP reputation)",
		"backoff", HOURS(2), 0, 0,
		"Microsoft rate-limits this IP for its reputation "
		    "(4.7.650/4.7.651)",
		SRC_OUTLOOK
	},
	{
		"microsoft",
		"^4[0-9]{2}[ -]4\\.7\\.(5[0-9]{2}|6[0-9]{2}) .*server busy",
		"backoff", HOURS(1), 0, 0,
		"Exchange Online defers this IP (Server busy, "
		    "4.7.500-699): volume or reputation",
		SRC_EXO
	},
	{
		"microsoft",
		"^421[ -].*RP-003",
		"disconnect", 0, 0, 0,
		"Outlook.com: this IP exceeded the connection limit "
		    "allowed for its reputation",
		SRC_OUTLOOK
	},
	{
		"microsoft",
		"^4[0-9]{2}[ -].*(RP-00[12]|exceeded the rate limit)",
		"backoff", HOURS(1), 0, 0,
		"Outlook.com: this IP exceeded the message rate limit "
		    "allowed for its reputation",
		SRC_OUTLOOK
	},
	{
		"microsoft",
		"^5[0-9]{2}[ -].*(part of their network is on our block ?list"
		    "|blocked using spamhaus.*\\(A?S3[0-9]{3}\\))",
		"suspend", HOURS(1), 0, 0,
		"Microsoft blocks this IP (S3140/S3150, Spamhaus): every "
		    "message from it is refused until delisted",
		SRC_OUTLOOK
	},

	/* --- Apple (iCloud Mail) --------------------------------------- */
	/*
	 * The reply names one recipient ("Messages to x@icloud.com deferred
	 * due to excessive volume") and closes the connection: one is about
	 * that mailbox, many in a few minutes mean we are too fast for
	 * iCloud as a whole.
	 */
	{
		"apple",
		"^4[0-9]{2}[ -].*messages to .* deferred due to excessive "
		    "volume",
		"backoff", HOURS(1), 10, MINUTES(10),
		"iCloud defers recipients for excessive volume",
		SRC_APPLE
	},

	/* --- Comcast (Xfinity) ----------------------------------------- */
	{
		"comcast",
		"^421[ -].*too many sessions opened",
		"disconnect", 0, 0, 0,
		"Comcast: more simultaneous connections from this IP than "
		    "it allows",
		SRC_COMCAST
	},
	{
		"comcast",
		"^4[0-9]{2}[ -].*RL0000[0-9]{2}",
		"backoff", HOURS(1), 2, HOURS(1),
		"Comcast throttles this IP: volume rate limit (RL0000xx)",
		SRC_COMCAST
	},

	/* --- GMX, WEB.DE, mail.com (United Internet) ------------------- */
	{
		"gmx",
		"^4[0-9]{2}[ -].*too many messages have been received in a "
		    "short period",
		"backoff", HOURS(2), 0, 0,
		"GMX/WEB.DE: too many messages in a short time, retry in a "
		    "few hours at a lower rate",
		SRC_WEBDE
	},

	/* --- Anyone: 421 is "closing transmission channel" ------------- */
	{
		"generic",
		"^421[ -].*(too many (concurrent |simultaneous )?(smtp )?"
		    "(connections|sessions)|maximum number of concurrent "
		    "(server )?connections|connection limit (exceeded|reached))",
		"disconnect", 0, 3, MINUTES(5),
		"The server refuses more connections from us",
		SRC_RFC5321
	},
	/*
	 * Not "rate limit" on its own: Gmail's 421 4.7.26/27/30/32 say
	 * "rate limited because" one message is unauthenticated.
	 */
	{
		"generic",
		"^421[ -].*(try (again )?later|throttl)",
		"backoff", MINUTES(30), 5, MINUTES(5),
		"The server closes sessions and asks us to come back later",
		SRC_RFC5321
	},
};
const size_t nbuiltin_rules = sizeof(builtin_rules) / sizeof(builtin_rules[0]);

/*
 * MX host name globs, lowercase; the most preferred MX host is matched.
 * First match wins, so a more specific glob goes before a wider one.
 *
 * Only hosted mailbox services whose MX names are the provider's own
 * are listed.  Security gateways (Proofpoint *.pphosted.com, Mimecast
 * *.mimecast.com, Barracuda, Cisco IronPort) are not: their MX names
 * share a suffix, but each customer has its own policy and limits behind
 * them, and one customer's throttling or block must not hold every other
 * customer's mail.  GMX and WEB.DE are not either: their brands use
 * different host names, and domains with identical MX sets are already
 * shared by auto-mx-rollup.
 */
const struct builtin_rollup builtin_rollups[] = {
	/* Gmail and Workspace: gmail-smtp-in.l, aspmx.l, altN.*, smtp. */
	{ "*.google.com",			"google.rollup" },
	{ "*.googlemail.com",			"google.rollup" },
	/* Outlook.com / Hotmail / Live / MSN consumer edge. */
	{ "*.olc.protection.outlook.com",	"hotmail.rollup" },
	/* Exchange Online (Microsoft 365 tenants), and its DANE MX names. */
	{ "*.mail.protection.outlook.com",	"outlook.rollup" },
	{ "*.mx.microsoft",			"outlook.rollup" },
	/* Yahoo, AOL, Verizon, and Yahoo-hosted partner domains. */
	{ "*.yahoodns.net",			"yahoo.rollup" },
	/* iCloud, me.com, mac.com and iCloud+ custom domains. */
	{ "*.mail.icloud.com",			"icloud.rollup" },
	/* Zoho Mail, one rollup per data centre. */
	{ "*.zoho.com",				"zoho.rollup" },
	{ "*.zoho.eu",				"zoho-eu.rollup" },
	/* Fastmail and its hosted domains. */
	{ "*.messagingengine.com",		"fastmail.rollup" },
	/* Yandex Mail and Yandex 360 domains. */
	{ "*.yandex.ru",			"yandex.rollup" },
	{ "*.yandex.net",			"yandex.rollup" },
	/* Mail.ru and VK WorkMail domains. */
	{ "*.mail.ru",				"mailru.rollup" },
};
const size_t nbuiltin_rollups =
    sizeof(builtin_rollups) / sizeof(builtin_rollups[0]);
