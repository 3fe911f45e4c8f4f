/*
 * fuzz_ipc.c - libFuzzer harness for the IPC frame codec (common/ipc.c).
 *
 * Purpose:      the input is a byte stream as a peer would send it.  It
 *               is cut into frames the way process_in() does
 *               (ipc_parse_hdr, wait for hdr.len bytes), and each payload
 *               is decoded with the ipc_get_* getters in exactly the
 *               shape, order and destination sizes of the receiving
 *               handler, ending with ipc_get_end, followed by the
 *               handler's own checks that need no daemon state:
 *                 HELLO / HELLO_OK         common/ipc.c, smtpd, deliverd
 *                 MASTER_CONFIG            common/daemon.c
 *                 CHILD_CONFIG_OK/FAIL     master/child.c
 *                 SMTPD_MSG_NEW/RCPT/OPEN/COMMIT/ABORT  queued/commit.c
 *                 QUEUED_OPEN_OK/FAIL, QUEUED_COMMIT_OK/FAIL  smtpd
 *                 CTL_REQUEST / CTL_REPLY  queued/ctl.c, master, tern
 *                 DELIVERD_READY           queued/sched.c sched_ready
 *                 QUEUED_JOB               deliverd/deliverd.c on_job
 *                 QUEUED_DKIM_SIGN         dkimd/dkimd.c on_sign
 *                 DKIMD_SIGNED/SIGN_FAIL   queued/dkim.c
 *                 DELIVERD_RESULT          queued/sched.c sched_result
 *               sched_result checks the count against the job it sent;
 *               here the job is taken to have recipients 0..n-1, with n
 *               at most QJOB_RCPT_MAX (500), queued's own bound.
 * Used by:      make fuzz / make fuzz-run, t/70-fuzz-smoke.t.
 * Trust:        the input is arbitrary bytes.
 * Spool access: none.
 * See:          t/fuzz/README, common/ipc.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "mailaddr.h"
#include "spool.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Sizes of the handlers' destinations (see the files named above). */
#define QJOB_RCPT_MAX	500		/* queued/queued.h */
#define JOB_RCPT_MAX	1000		/* deliverd/deliverd.h */
#define DIAG_TEXT_MAX	1024		/* queued/queued.h */

static int
d_hello(struct ipc_msg *m)
{
	uint8_t	 role;
	uint32_t pid;

	if (ipc_get_u8(m, &role) == -1 || ipc_get_u32(m, &pid) == -1 ||
	    ipc_get_end(m) == -1)
		return -1;
	return role < ROLE_MAX ? 0 : -1;
}

static int
d_u32(struct ipc_msg *m)
{
	uint32_t pid;

	return ipc_get_u32(m, &pid) == -1 || ipc_get_end(m) == -1 ? -1 : 0;
}

/* One string into a buffer of sz bytes, then the end. */
static int
d_str(struct ipc_msg *m, size_t sz)
{
	char	*s = xmalloc(sz);
	int	 r;

	r = ipc_get_str(m, s, sz) == -1 || ipc_get_end(m) == -1 ? -1 : 0;
	if (r == 0 && strlen(s) >= sz)
		abort();
	free(s);
	return r;
}

static int
d_blob(struct ipc_msg *m)
{
	const uint8_t	*p;
	size_t		 n;

	if (ipc_get_blob(m, &p, &n) == -1 || ipc_get_end(m) == -1)
		return -1;
	if (p < m->data || n > m->len || p + n > m->data + m->len)
		abort();
	if (n > 0)		/* touch it: must lie inside the frame */
		(void)(volatile uint8_t)(p[0] ^ p[n - 1]);
	return 0;
}

/* queued/commit.c rx_new */
static int
d_msg_new(struct ipc_msg *m)
{
	char		 sender[MAILADDR_MAX + 1], ip[64], helo[256];
	struct mailaddr	 a;
	const char	*why;

	if (ipc_get_str(m, sender, sizeof(sender)) == -1 ||
	    ipc_get_str(m, ip, sizeof(ip)) == -1 ||
	    ipc_get_str(m, helo, sizeof(helo)) == -1 || ipc_get_end(m) == -1)
		return -1;
	if (sender[0] != '\0' && mailaddr_parse(sender, &a, &why) == -1)
		return -1;
	return 0;
}

/* queued/commit.c rx_rcpt */
static int
d_msg_rcpt(struct ipc_msg *m)
{
	char		 addr[MAILADDR_MAX + 1];
	struct mailaddr	 a;
	const char	*why;

	if (ipc_get_str(m, addr, sizeof(addr)) == -1 || ipc_get_end(m) == -1)
		return -1;
	return mailaddr_parse(addr, &a, &why);
}

/* queued/commit.c rx_commit */
static int
d_msg_commit(struct ipc_msg *m)
{
	char		 id[SPOOL_ID_LEN + 1], want[SPOOL_NAME_MAX + 1];
	char		 job[SPOOL_JOB_MAX + 1];
	uint64_t	 size;

	if (ipc_get_str(m, id, sizeof(id)) == -1 ||
	    ipc_get_str(m, want, sizeof(want)) == -1 ||
	    ipc_get_str(m, job, sizeof(job)) == -1 ||
	    ipc_get_u64(m, &size) == -1 || ipc_get_end(m) == -1)
		return -1;
	return spool_id_ok(id) ? 0 : -1;
}

/* smtpd/smtpd.c on_open_ok, queued/commit.c rx_abort */
static int
d_id(struct ipc_msg *m)
{
	char	 id[SPOOL_ID_LEN + 1];

	if (ipc_get_str(m, id, sizeof(id)) == -1 || ipc_get_end(m) == -1)
		return -1;
	return spool_id_ok(id) ? 0 : -1;
}

/* deliverd/deliverd.c get_prepend: empty, or a header fit to send */
static int
d_prepend(struct ipc_msg *m)
{
	const uint8_t	*p;
	size_t		 n;

	if (ipc_get_blob(m, &p, &n) == -1)
		return -1;
	if (n > 0 && (memchr(p, '\0', n) != NULL ||
	    !spool_prepend_ok((const char *)p, n)))
		return -1;
	return 0;
}

/* deliverd/deliverd.c get_rcpts + on_job */
struct jrcpt {
	uint32_t	 idx;
	char		 addr[MAILADDR_MAX + 1];
};

static int
d_job(struct ipc_msg *m)
{
	char		 msgid[SPOOL_ID_LEN + 1];
	char		 domain[MAILADDR_DOMAIN_MAX + 1];
	char		 sender[MAILADDR_MAX + 1];
	uint64_t	 body_off, body_len;
	uint32_t	 n, i;
	struct jrcpt	*r = NULL;
	struct mailaddr	 a;
	const char	*why;
	int		 rv = -1;

	if (ipc_get_str(m, msgid, sizeof(msgid)) == -1 ||
	    ipc_get_str(m, domain, sizeof(domain)) == -1 ||
	    ipc_get_str(m, sender, sizeof(sender)) == -1 ||
	    ipc_get_u64(m, &body_off) == -1 ||
	    ipc_get_u64(m, &body_len) == -1)
		return -1;
	if (ipc_get_u32(m, &n) == -1 || n == 0 || n > JOB_RCPT_MAX)
		return -1;
	r = xcalloc(n, sizeof(*r));
	for (i = 0; i < n; i++)
		if (ipc_get_u32(m, &r[i].idx) == -1 ||
		    ipc_get_str(m, r[i].addr, sizeof(r[i].addr)) == -1 ||
		    mailaddr_parse(r[i].addr, &a, &why) == -1)
			goto out;
	if (d_prepend(m) == -1 || ipc_get_end(m) == -1 ||
	    !spool_id_ok(msgid) || !mailaddr_domain_ok(domain))
		goto out;
	rv = 0;
out:
	free(r);
	return rv;
}

/* dkimd/dkimd.c on_sign */
static int
d_sign(struct ipc_msg *m)
{
	char	 id[SPOOL_ID_LEN + 1], sel[64 + 1];
	char	 dom[MAILADDR_DOMAIN_MAX + 1];
	uint64_t off, len;

	if (ipc_get_str(m, id, sizeof(id)) == -1 ||
	    ipc_get_str(m, sel, sizeof(sel)) == -1 ||
	    ipc_get_str(m, dom, sizeof(dom)) == -1 ||
	    ipc_get_u64(m, &off) == -1 || ipc_get_u64(m, &len) == -1 ||
	    ipc_get_end(m) == -1 || !spool_id_ok(id))
		return -1;
	return 0;
}

/* queued/dkim.c on_signed: the header must be fit to send */
static int
d_signed(struct ipc_msg *m)
{
	const uint8_t	*p;
	size_t		 n;

	if (ipc_get_blob(m, &p, &n) == -1 || ipc_get_end(m) == -1 ||
	    memchr(p, '\0', n) != NULL || !spool_prepend_ok((const char *)p, n))
		return -1;
	return 0;
}

/* queued/sched.c sched_result, for a job of recipients 0..n-1 */
struct rres {
	uint32_t	 idx;
	char		 outcome;
	char		 status[16];
	char		*diag;
};

static int
d_result(struct ipc_msg *m)
{
	char		 mx[300], ip[64], src[64], esmtp[160];
	char		 diag[DIAG_TEXT_MAX];
	struct rres	*r = NULL;
	uint8_t		 ql;
	uint32_t	 n, i, k, got = 0;
	int		 rv = -1;

	if (ipc_get_str(m, mx, sizeof(mx)) == -1 ||
	    ipc_get_str(m, ip, sizeof(ip)) == -1 ||
	    ipc_get_str(m, src, sizeof(src)) == -1 ||
	    ipc_get_str(m, esmtp, sizeof(esmtp)) == -1 ||
	    ipc_get_u8(m, &ql) == -1 || ipc_get_u32(m, &n) == -1 ||
	    n == 0 || n > QJOB_RCPT_MAX)
		return -1;
	r = xcalloc(n, sizeof(*r));
	for (i = 0; i < n; i++) {
		uint8_t oc;

		if (ipc_get_u32(m, &r[i].idx) == -1 ||
		    ipc_get_u8(m, &oc) == -1 ||
		    ipc_get_str(m, r[i].status, sizeof(r[i].status)) == -1 ||
		    ipc_get_str(m, diag, sizeof(diag)) == -1)
			goto out;
		r[i].diag = xstrdup(diag);
		got = i + 1;
		k = r[i].idx < n ? r[i].idx : n;
		for (uint32_t d = 0; d < i && k < n; d++)
			if (r[d].idx == r[i].idx)
				k = n;
		if (k == n || (oc != 'D' && oc != 'T' && oc != 'B') ||
		    r[i].status[0] != (oc == 'D' ? '2' : oc == 'T' ? '4' :
		    '5'))
			goto out;
		r[i].outcome = (char)oc;
	}
	if (ipc_get_end(m) == -1)
		goto out;
	rv = 0;
out:
	for (i = 0; i < got; i++)
		free(r[i].diag);
	free(r);
	return rv;
}

static int
decode(struct ipc_msg *m)
{
	switch (m->hdr.type) {
	case IPC_HELLO:
		return d_hello(m);
	case IPC_HELLO_OK:
		return d_u32(m);
	case IPC_HELLO_FAIL:
		return d_str(m, 512);
	case IPC_MASTER_CONFIG:
		return d_str(m, 1024);
	case IPC_CHILD_CONFIG_OK:
	case IPC_CHILD_CONFIG_FAIL:
		return d_str(m, 4200);
	case IPC_SMTPD_MSG_NEW:
		return d_msg_new(m);
	case IPC_SMTPD_MSG_RCPT:
		return d_msg_rcpt(m);
	case IPC_SMTPD_MSG_OPEN:
		return ipc_get_end(m);
	case IPC_QUEUED_OPEN_OK:
	case IPC_SMTPD_MSG_ABORT:
		return d_id(m);
	case IPC_QUEUED_OPEN_FAIL:
	case IPC_QUEUED_COMMIT_OK:
	case IPC_QUEUED_COMMIT_FAIL:
		return d_str(m, 512);
	case IPC_SMTPD_MSG_COMMIT:
		return d_msg_commit(m);
	case IPC_CTL_REQUEST:
	case IPC_CTL_REPLY:
		return d_blob(m);
	case IPC_DELIVERD_READY:
		return d_str(m, SPOOL_NAME_MAX + 1);
	case IPC_QUEUED_JOB:
		return d_job(m);
	case IPC_DELIVERD_RESULT:
		return d_result(m);
	case IPC_QUEUED_DKIM_SIGN:
		return d_sign(m);
	case IPC_DKIMD_SIGNED:
		return d_signed(m);
	case IPC_DKIMD_SIGN_FAIL:
		return d_str(m, IPC_STR_MAX + 1);
	default:
		return -1;		/* dispatch: "unexpected type" */
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t	 off = 0;

	/* As process_in(): every complete frame, until a bad header. */
	while (size - off >= IPC_HDR_SIZE) {
		struct ipc_msg	 m;

		memset(&m, 0, sizeof(m));
		if (ipc_parse_hdr(data + off, size - off, &m.hdr) == -1)
			break;
		if (m.hdr.len < IPC_HDR_SIZE || m.hdr.len > IPC_MAXSIZE ||
		    m.hdr.version != IPC_VERSION)
			abort();	/* ipc_parse_hdr let it through */
		if (size - off < m.hdr.len)
			break;
		m.data = data + off + IPC_HDR_SIZE;
		m.len = m.hdr.len - IPC_HDR_SIZE;
		m.fd = -1;
		off += m.hdr.len;
		if (decode(&m) == 0 && (m.bad || m.pos != m.len))
			abort();	/* accepted with bytes left over */
		if (m.pos > m.len)
			abort();
	}
	return 0;
}
