/*
 * test_dsnparse.c - unit tests for common/dsnparse.c.
 *
 * Purpose:      hand-written messages through dsn_parse and
 *               dsn_categorize: a standard RFC 3464 DSN, one with three
 *               recipients (one delivered, left out), a folded
 *               Diagnostic-Code, a base64 delivery-status part, a
 *               Postfix and a qmail text bounce, an Exim bounce with
 *               X-Failed-Recipients and no status (pseudo status), a
 *               reply code that overrides the Status field, a quoted
 *               forwarded bounce, a session transcript, a user unknown
 *               after DATA, a host that does not exist, a postmaster@
 *               recipient, an
 *               ARF report with and without Original-Rcpt-To, garbage,
 *               MIME cut short, a 1 MiB header, NUL bytes, and nesting
 *               deeper than the limit.  The hostile ones must return
 *               without a crash and with bounded strings.
 * Used by:      t/00-unit.t (build/t/test_dsnparse).
 * Trust:        test code.
 * Spool access: none.
 * See:          common/dsnparse.h, RFC 3464, RFC 5965.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dsnparse.h"
#include "tap.h"
#include "util.h"

static struct bcat_table	*bt;
static struct dsn_result	 res;

static size_t
parse(const char *m)
{
	size_t n = dsn_parse(m, strlen(m), &res);

	dsn_categorize(&res, bt);
	return n;
}

static const char dsn1[] =
    "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\n"
    "To: bounces@tern.test\n"
    "Subject: Undelivered Mail Returned to Sender\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/report; report-type=delivery-status;\n"
    "\tboundary=\"BND/1\"\n"
    "\n"
    "--BND/1\n"
    "Content-Type: text/plain\n"
    "\n"
    "I'm sorry to have to inform you that your message could not\n"
    "be delivered to one or more recipients.\n"
    "\n"
    "--BND/1\n"
    "Content-Type: message/delivery-status\n"
    "\n"
    "Reporting-MTA: dns; mx.example.net\n"
    "\n"
    "Final-Recipient: rfc822; Nobody@Example.NET\n"
    "Original-Recipient: rfc822;nobody@example.net\n"
    "Action: failed\n"
    "Status: 5.1.1\n"
    "Remote-MTA: dns; in.example.net\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.net>: Recipient\n"
    "    address rejected: User unknown in local recipient table\n"
    "\n"
    "--BND/1\n"
    "Content-Type: text/rfc822-headers\n"
    "\n"
    "Return-Path: <bounces+job7@tern.test>\n"
    "Message-ID: <abc.123@tern.test>\n"
    "X-Job: spring-sale\n"
    "To: nobody@example.net\n"
    "\n"
    "--BND/1--\n";

static const char dsn3[] =
    "Content-Type: multipart/report; boundary=x\n"
    "\n"
    "--x\r\n"
    "Content-Type: message/delivery-status\r\n"
    "\r\n"
    "Reporting-MTA: dns; a.test\r\n"
    "\r\n"
    "Final-Recipient: rfc822; a@one.test\r\n"
    "Action: failed\r\n"
    "Status: 5.2.2\r\n"
    "Diagnostic-Code: smtp; 552 5.2.2 Mailbox full\r\n"
    "\r\n"
    "Final-Recipient: rfc822; b@two.test\r\n"
    "Action: delivered\r\n"
    "Status: 2.0.0\r\n"
    "\r\n"
    "Final-Recipient: rfc822; c@three.test\r\n"
    "Action: delayed\r\n"
    "Status: 4.4.1\r\n"
    "Diagnostic-Code: smtp; connection timed out\r\n"
    "\r\n"
    "--x--\r\n";

/* "Final-Recipient: rfc822; q@b64.test\nAction: failed\nStatus: 5.7.1\n" */
static const char dsn_b64[] =
    "Content-Type: multipart/report; boundary=\"b\"\n"
    "\n"
    "--b\n"
    "Content-Type: message/delivery-status\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "RmluYWwtUmVjaXBpZW50OiByZmM4MjI7IHFAYjY0LnRlc3QKQWN0aW9uOiBmYWls\n"
    "ZWQKU3RhdHVzOiA1LjcuMQo=\n"
    "--b--\n";

static const char postfix[] =
    "From: MAILER-DAEMON@mx.tern.test\n"
    "To: sender@tern.test\n"
    "Subject: Undelivered Mail Returned to Sender\n"
    "\n"
    "This is the mail system at host mx.tern.test.\n"
    "\n"
    "<gone@example.org>: host mx.example.org[192.0.2.1] said: 550 5.1.1\n"
    "    <gone@example.org>: Recipient address rejected (in reply to RCPT\n"
    "    TO command)\n"
    "\n"
    "------ This is a copy of the message, including all the headers.\n"
    "To: someone-else@example.org\n";

static const char qmail[] =
    "From: MAILER-DAEMON@q.test\n"
    "To: sender@tern.test\n"
    "\n"
    "Hi. This is the qmail-send program at q.test.\n"
    "I'm afraid I wasn't able to deliver your message to the following\n"
    "addresses. This is a permanent error; I've given up. Sorry it "
    "didn't work out.\n"
    "\n"
    "<kitty@q.test>:\n"
    "192.0.2.9 does not like recipient.\n"
    "Remote host said: 550 sorry, no mailbox here by that name\n"
    "Giving up on 192.0.2.9.\n"
    "\n"
    "--- Below this line is a copy of the message.\n"
    "\n"
    "To: other@q.test\n";

static const char exim[] =
    "From: Mail Delivery System <Mailer-Daemon@exim.test>\n"
    "To: sender@tern.test\n"
    "X-Failed-Recipients: lost@exim.test\n"
    "\n"
    "This message was created automatically by mail delivery software.\n"
    "\n"
    "A message that you sent could not be delivered to one or more of\n"
    "its recipients. This is a permanent error.\n"
    "\n"
    "  lost@exim.test\n"
    "    Unrouteable address\n";

static const char arf[] =
    "From: staff@isp.test\n"
    "To: fbl@tern.test\n"
    "Content-Type: multipart/report; report-type=feedback-report;\n"
    " boundary=\"part1\"\n"
    "\n"
    "--part1\n"
    "Content-Type: text/plain\n"
    "\n"
    "This is an email abuse report.\n"
    "--part1\n"
    "Content-Type: message/feedback-report\n"
    "\n"
    "Feedback-Type: abuse\n"
    "User-Agent: SomeGenerator/1.0\n"
    "Version: 1\n"
    "Original-Rcpt-To: <Complainer@ISP.test>\n"
    "Source-IP: 192.0.2.77\n"
    "\n"
    "--part1\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: news@tern.test\n"
    "To: other@isp.test\n"
    "Message-ID: <m1@tern.test>\n"
    "X-Job: weekly\n"
    "\n"
    "body\n"
    "--part1--\n";

static const char arf_norcpt[] =
    "Content-Type: multipart/report; boundary=p\n"
    "\n"
    "--p\n"
    "Content-Type: message/feedback-report\n"
    "\n"
    "Feedback-Type: fraud\n"
    "\n"
    "--p\n"
    "Content-Type: text/rfc822-headers\n"
    "\n"
    "To: victim@isp.test\n"
    "--p--\n";

/* The reply's own code says more than the Status the relay wrote. */
static const char over[] =
    "Content-Type: multipart/report; boundary=o\n"
    "\n"
    "--o\n"
    "Content-Type: message/delivery-status\n"
    "\n"
    "Final-Recipient: rfc822; full@o.test\n"
    "Action: failed\n"
    "Status: 5.1.1\n"
    "Diagnostic-Code: smtp; 552 5.2.2 Over quota\n"
    "\n"
    "Final-Recipient: rfc822; ses@o.test\n"
    "Action: failed\n"
    "Status: 5.0.0 (permanent failure)\n"
    "Diagnostic-Code: smtp; 5.1.0 - Unknown address error 550-'5.7.1\n"
    " <x@o.test>... Access denied' (delivery attempts: 0)\n"
    "--o--\n";

/* A bounce forwarded by a mail client, quoted, with a transcript. */
static const char fwd[] =
    "From: Someone <someone@tern.test>\n"
    "To: postmaster@tern.test\n"
    "Subject: Fwd: Returned mail\n"
    "\n"
    "Begin forwarded message:\n"
    ">\n"
    "> Message-Id: <20240101.abc@mx.tern.test>\n"
    ">\n"
    ">    ----- The following addresses had permanent fatal errors -----\n"
    "> <gone@far.test>\n"
    ">     (reason: 550 5.1.1 <gone@far.test>... User unknown)\n";

/* A Postfix session transcript: the sender's address comes first. */
static const char transcript[] =
    "From: MAILER-DAEMON@mx.tern.test\n"
    "To: list@tern.test\n"
    "\n"
    "Transcript of session follows.\n"
    " In:  MAIL FROM:<bounce=x@tern.test> SIZE=100\n"
    " Out: 250 2.1.0 Ok\n"
    " In:  RCPT TO:<who@far.test>\n"
    " Out: 250 2.1.5 Ok\n"
    " In:  DATA\n"
    " Out: 451 4.3.0 Error: queue file write error\n";

/* User unknown after DATA; a host that does not exist; postmaster. */
static const char afterdata[] =
    "From: Mail Delivery System <Mailer-Daemon@exim.test>\n"
    "To: sender@tern.test\n"
    "\n"
    "  nobody@far.test\n"
    "    SMTP error from remote mail server after end of data:\n"
    "    550 : User unknown\n";
static const char nohost[] =
    "From: Mail Delivery System <Mailer-Daemon@exim.test>\n"
    "To: sender@tern.test\n"
    "\n"
    "  who@far.test\n"
    "    553 mx.far.test does not exist\n";
static const char pm[] =
    "From: MAILER-DAEMON@isp.test\n"
    "To: sender@tern.test\n"
    "\n"
    "   ----- The following addresses had delivery problems -----\n"
    "postmaster@far.test\n"
    "   ----- Non-delivered information -----\n"
    "The number of messages in recipient's mailbox exceeded the local "
    "limit.\n";

static const char truncated[] =
    "Content-Type: multipart/report; boundary=\"zz\"\n"
    "\n"
    "--zz\n"
    "Content-Type: message/delivery-status\n"
    "\n"
    "Final-Recipient: rfc822; cut@short.test\n"
    "Action: failed\n"
    "Status: 5.1";

static void
test_standard(void)
{
	is_int(parse(dsn1), 1, "standard DSN: one report");
	is_str(res.r[0].rcpt, "nobody@example.net",
	    "Final-Recipient, lowercased");
	is_str(res.r[0].status, "5.1.1", "status");
	is_str(res.r[0].diag, "550 5.1.1 <nobody@example.net>: Recipient "
	    "address rejected: User unknown in local recipient table",
	    "folded Diagnostic-Code unfolded on one line");
	is_str(res.r[0].rmta, "in.example.net", "Remote-MTA");
	is_str(res.r[0].action, "failed", "action");
	is_str(res.r[0].category, "bad-mailbox", "category");
	is_str(res.msgid, "<abc.123@tern.test>", "returned Message-ID");
	is_str(res.xjob, "spring-sale", "returned X-Job");
	is_str(res.env_from, "bounces+job7@tern.test", "returned Return-Path");
	ok(!res.r[0].heuristic, "from the DSN part");
}

static void
test_multi(void)
{
	is_int(parse(dsn3), 2, "three recipients, one delivered: two reports");
	is_str(res.r[0].rcpt, "a@one.test", "first");
	is_str(res.r[0].category, "quota-issues", "first: quota");
	is_str(res.r[1].rcpt, "c@three.test", "third (CRLF)");
	is_str(res.r[1].status, "4.4.1", "third: delayed status");
	is_str(res.r[1].action, "delayed", "third: action delayed");
	is_int(parse(dsn_b64), 1, "base64 delivery-status part");
	is_str(res.r[0].rcpt, "q@b64.test", "base64: recipient");
	is_str(res.r[0].status, "5.7.1", "base64: status");
}

static void
test_text(void)
{
	is_int(parse(postfix), 1, "Postfix text bounce");
	is_str(res.r[0].rcpt, "gone@example.org", "Postfix: recipient");
	is_str(res.r[0].status, "5.1.1", "Postfix: status from the reply");
	ok(strncmp(res.r[0].diag, "550 5.1.1", 9) == 0, "Postfix: reply");
	ok(res.r[0].heuristic, "Postfix: heuristic");
	is_int(parse(qmail), 1, "qmail text bounce");
	is_str(res.r[0].rcpt, "kitty@q.test", "qmail: recipient");
	is_str(res.r[0].diag, "550 sorry, no mailbox here by that name "
	    "Giving up on 192.0.2.9.", "qmail: reply, its paragraph");
	is_str(res.r[0].status, "5.0.911", "qmail: pseudo status");
	is_str(res.r[0].category, "bad-mailbox", "qmail: category");
	is_int(parse(exim), 1, "Exim bounce with X-Failed-Recipients");
	is_str(res.r[0].rcpt, "lost@exim.test", "Exim: recipient");
	is_str(res.r[0].status, "5.0.912", "Exim: unrouteable, pseudo");
	is_str(res.r[0].category, "bad-domain", "Exim: category");
}

static void
test_more(void)
{
	is_int(parse(over), 2, "reply codes: two reports");
	is_str(res.r[0].status, "5.2.2", "the reply's code over Status");
	is_str(res.r[0].category, "quota-issues", "over quota: category");
	is_str(res.r[1].status, "5.7.1", "the remote's code over the relay's");
	is_int(parse(fwd), 1, "forwarded, quoted bounce");
	is_str(res.r[0].rcpt, "gone@far.test", "quoted: the recipient");
	is_str(res.r[0].status, "5.1.1", "quoted: status");
	is_int(parse(transcript), 1, "transcript");
	is_str(res.r[0].rcpt, "who@far.test", "transcript: RCPT TO");
	is_str(res.r[0].status, "4.3.0", "transcript: no 2.y.z");
	is_int(parse(afterdata), 1, "user unknown after DATA");
	is_str(res.r[0].cmd, "DATA", "after DATA: the command");
	is_str(res.r[0].status, "5.0.910", "after DATA: filtered");
	is_str(res.r[0].category, "bad-mailbox", "after DATA: category");
	is_int(parse(nohost), 1, "host does not exist");
	is_str(res.r[0].status, "5.0.912", "host: host unknown");
	is_str(res.r[0].category, "bad-domain", "host: category");
	is_int(parse(pm), 1, "postmaster alone on its line");
	is_str(res.r[0].rcpt, "postmaster@far.test", "postmaster: recipient");
	is_str(res.r[0].status, "5.0.922", "postmaster: mailbox full");
	is_int(parse("From: x@y.test\n\n>\n> \n>\n"), 0,
	    "bare quote marks: nothing, no hang");
}

static void
test_arf(void)
{
	is_int(parse(arf), 1, "ARF: one report");
	ok(res.arf.present, "ARF present");
	is_str(res.arf.type, "abuse", "Feedback-Type");
	is_str(res.arf.orig_rcpt, "complainer@isp.test", "Original-Rcpt-To");
	is_str(res.arf.source_ip, "192.0.2.77", "Source-IP");
	is_str(res.arf.user_agent, "SomeGenerator/1.0", "User-Agent");
	is_str(res.xjob, "weekly", "ARF: X-Job of the returned message");
	is_int(res.n, 0, "ARF: no bounce report");
	is_int(parse(arf_norcpt), 1, "ARF without Original-Rcpt-To");
	is_str(res.arf.type, "fraud", "its type");
	is_str(res.arf.orig_rcpt, "victim@isp.test",
	    "original recipient from the returned To");
}

static void
test_hostile(void)
{
	static const char nest[] = "Content-Type: multipart/mixed; "
	    "boundary=a\n\n--a\n";
	char	*big;
	size_t	 i, n;
	static const char nul[] = "Content-Type: multipart/report; "
	    "boundary=q\n\n--q\nContent-Type: message/delivery-status\n\n"
	    "Final-Recipient: rfc822; n\0ul@x.test\nStatus: 5.\0001.1\n"
	    "Action: failed\n--q--\n";

	is_int(parse("garbage \x01\x02\xff no headers at all"), 0,
	    "garbage: nothing");
	is_int(parse(""), 0, "empty: nothing");
	is_int(parse(truncated), 1, "MIME cut short: the block is read");
	is_str(res.r[0].status, "5.0.900", "cut status: undefined pseudo");
	n = dsn_parse(nul, sizeof(nul) - 1, &res);
	ok(n <= 1 && strlen(res.r[0].rcpt) < DSN_ADDR_MAX,
	    "NUL bytes: bounded");
	/* A 1 MiB header of one folded field, then a DSN. */
	big = xmalloc((1 << 20) + 1 + sizeof(dsn1));
	memcpy(big, "X-Big: a", 8);
	for (i = 8; i < (1 << 20); i++)
		big[i] = i % 100 == 0 ? '\n' : i % 100 == 1 ? ' ' : 'x';
	big[i++] = '\n';
	memcpy(big + i, dsn1, sizeof(dsn1));
	n = dsn_parse(big, strlen(big), &res);
	is_int(n, 1, "huge header: still parsed");
	for (i = 0; i + sizeof(nest) < (1 << 20); i += sizeof(nest) - 1)
		memcpy(big + i, nest, sizeof(nest) - 1);
	big[i] = '\0';
	n = dsn_parse(big, strlen(big), &res);
	ok(n == 0 || n == 1, "deep nesting: bounded");
	free(big);
}

int
main(void)
{
	struct tern_config	 cfg;
	const char		*err;

	memset(&cfg, 0, sizeof(cfg));
	if ((bt = bcat_compile(&cfg, &err)) == NULL)
		bail_out("bcat_compile");
	test_standard();
	test_multi();
	test_text();
	test_more();
	test_arf();
	test_hostile();
	bcat_free(bt);
	return done_testing();
}
