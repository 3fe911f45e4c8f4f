/*
 * bouncecat.c - PowerMTA bounce categories for a failure.
 *
 * Purpose:      see bouncecat.h.  Patterns are POSIX extended regular
 *               expressions, case-insensitive; "\d" and "\D" (common in
 *               PowerMTA lists) are rewritten to [0-9] and [^0-9]; glibc
 *               already understands \b \w \s.
 * Used by:      queued.
 * Trust:        remote text is cut to BCAT_TEXT_MAX before matching.
 * Spool access: none.
 * See:          tern.yaml(5).
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bouncecat.h"
#include "util.h"

struct bcat_rule {
	regex_t		 re;
	char		*category;
};

struct bcat_table {
	unsigned	 n;
	struct bcat_rule *r;
};

/*
 * Built-in rules, after the configured ones.  Text first (the stock
 * PowerMTA list does the same: a 5.7.1 that says "spam" is spam-related,
 * not policy-related), then enhanced status codes.
 */
static const char *builtin[][2] = {
	{ "relay(ing)? (access )?(denied|not permitted|prohibited)|"
	    "not (permitted|configured|allowed|authori[sz]ed) to relay( mail)?|"
	    "unable to relay", "relaying-issues" },
	{ "\\bvirus|malware|infected", "virus-related" },
	{ "spam|junk mail|unsolicited|\\bU\\.?C\\.?E\\b|blacklist|blocklist|"
	    "\\b(open)?RBL\\b|realtime blackhole|spamhaus|spamcop|barracuda|"
	    "listed at|reputation|blocked using", "spam-related" },
	{ "message +content|content +rejected|content policy",
	    "content-related" },
	{ "quota|mailbox +(is +)?full|over ?limit|storage (space )?"
	    "(exceeded|full)|insufficient (system )?storage|too much mail",
	    "quota-issues" },
	{ "message (has )?expired|queue\\.expired|delivery time expired",
	    "message-expired" },
	{ "(account|mailbox|user)( is)? (disabled|inactive|suspended|"
	    "expired|deactivated|locked)|inactive (user|account|mailbox)",
	    "inactive-mailbox" },
	{ "null MX|(domain|host) (name )?(not found|unknown|does not exist)|"
	    "no such domain|unrouteable domain", "bad-domain" },
	/* Before bad-mailbox: "Sender address rejected: ... does not exist"
	 * is about our sender, not the recipient. */
	{ "sender (address )?(rejected|denied|invalid|unknown)|"
	    "sender domain|invalid sender|return path", "invalid-sender" },
	{ "(no such|bad|invalid|unknown|nonexist[ae]nt|illegal) "
	    "(user|mailbox|recipient|address|local[- ]part|account)|"
	    "user(name)? (unknown|not found)|recipient (unknown|not found|"
	    "rejected)|mailbox (unavailable|not found|does not exist)|"
	    "address (does not exist|unknown|rejected)|does not exist|"
	    "no mailbox|unrouteable address", "bad-mailbox" },
	{ "^[45]\\.4\\.7;", "message-expired" },
	{ "^[45]\\.1\\.(1|3|4|6|0);", "bad-mailbox" },
	{ "^[45]\\.1\\.(2|10);", "bad-domain" },
	{ "^[45]\\.1\\.(7|8);", "invalid-sender" },
	{ "^[45]\\.2\\.1;", "inactive-mailbox" },
	{ "^[45]\\.2\\.(2|3);", "quota-issues" },
	{ "^[45]\\.3\\.5;", "bad-configuration" },
	{ "^[45]\\.3\\.4;", "content-related" },
	{ "^[45]\\.4\\.1;", "no-answer-from-host" },
	{ "^[45]\\.4\\.2;", "bad-connection" },
	{ "^[45]\\.4\\.(3|4|6);", "routing-errors" },
	{ "^[45]\\.5\\.[0-9]+;", "protocol-errors" },
	{ "^[45]\\.6\\.[0-9]+;", "content-related" },
	{ "^[45]\\.7\\.7;", "content-related" },
	{ "^[45]\\.7\\.[0-9]+;", "policy-related" },
	{ "policy|denied|refused|not allowed|prohibited|rejected",
	    "policy-related" },
	{ "^2\\.[0-9]+\\.[0-9]+;", "success" },
};

/* perlish - rewrite \d and \D for POSIX regcomp */
static char *
perlish(const char *re)
{
	struct buf b;

	buf_init(&b, 64 * 1024);
	buf_add(&b, "", 0);
	for (; *re != '\0'; re++) {
		if (re[0] == '\\' && re[1] == 'd') {
			buf_addstr(&b, "[0-9]");
			re++;
		} else if (re[0] == '\\' && re[1] == 'D') {
			buf_addstr(&b, "[^0-9]");
			re++;
		} else if (re[0] == '\\' && re[1] != '\0') {
			buf_add(&b, re, 2);
			re++;
		} else
			buf_add(&b, re, 1);
	}
	return b.data;
}

static int
add_rule(struct bcat_table *t, const char *re, const char *cat)
{
	char	*p = perlish(re);
	int	 rc;

	rc = regcomp(&t->r[t->n].re, p, REG_EXTENDED | REG_ICASE | REG_NOSUB);
	free(p);
	if (rc != 0)
		return -1;
	t->r[t->n++].category = xstrdup(cat);
	return 0;
}

/* bcat_compile - the configured patterns, then the built-in ones */
struct bcat_table *
bcat_compile(const struct tern_config *cfg, const char **err)
{
	struct bcat_table *t = xcalloc(1, sizeof(*t));
	unsigned	   i;

	t->r = xcalloc(cfg->nbcpats + nitems(builtin) + 1, sizeof(*t->r));
	for (i = 0; i < cfg->nbcpats; i++)
		if (add_rule(t, cfg->bcpats[i].regex,
		    cfg->bcpats[i].category) == -1) {
			*err = "bad bounce-category-patterns regex";
			bcat_free(t);
			return NULL;
		}
	for (i = 0; i < nitems(builtin); i++)
		if (add_rule(t, builtin[i][0], builtin[i][1]) == -1) {
			*err = "bad built-in bounce pattern";
			bcat_free(t);
			return NULL;
		}
	return t;
}

void
bcat_free(struct bcat_table *t)
{
	unsigned i;

	if (t == NULL)
		return;
	for (i = 0; i < t->n; i++) {
		regfree(&t->r[i].re);
		free(t->r[i].category);
	}
	free(t->r);
	free(t);
}

/* bcat_classify - first matching rule's category, else "other" */
const char *
bcat_classify(const struct bcat_table *t, const char *status,
    const char *reply)
{
	char	 text[BCAT_TEXT_MAX + 32];
	unsigned i;

	snprintf(text, sizeof(text), "%.16s;%.*s", status ? status : "",
	    BCAT_TEXT_MAX, reply ? reply : "");
	for (i = 0; i < t->n; i++)
		if (regexec(&t->r[i].re, text, 0, NULL, 0) == 0)
			return t->r[i].category;
	return "other";
}

const char *
bcat_status_text(const char *status)
{
	static const struct { const char *code, *text; } known[] = {
		{ "2.0.0", "success" },
		{ "4.4.1", "no answer from host" },
		{ "4.4.2", "bad connection" },
		{ "4.4.3", "directory server failure" },
		{ "4.4.7", "delivery time expired" },
		{ "5.1.1", "bad destination mailbox address" },
		{ "5.1.2", "bad destination system: no such domain" },
		{ "5.1.10", "recipient address has null MX" },
		{ "5.2.1", "mailbox disabled, not accepting messages" },
		{ "5.2.2", "mailbox full" },
		{ "5.4.4", "unable to route" },
		{ "5.4.7", "delivery time expired" },
		{ "5.7.1", "delivery not authorized, message refused" },
	};
	unsigned i;

	for (i = 0; i < nitems(known); i++)
		if (strcmp(status, known[i].code) == 0)
			return known[i].text;
	switch (status[0]) {
	case '2': return "success";
	case '4': return "transient failure";
	case '5': return "permanent failure";
	}
	return "undefined status";
}
