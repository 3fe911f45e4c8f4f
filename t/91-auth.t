#!/usr/bin/python3
# 91-auth.t - SMTP AUTH (RFC 4954) PLAIN and LOGIN for injection: refused
# before TLS (538), right and wrong passwords (SHA-512 and yescrypt
# hashes), a delayed 535 that does not block other sessions, 454 after
# max-auth-failures, relaying only after AUTH, require-auth, a user held
# to its virtual-mtas and given its default, auth-without-tls on a
# loopback listener, STARTTLS forgetting AUTH, malformed responses.
import os
import smtplib
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import TAP, Tern, SMTP, free_port, parse_queue_file, wait_for  # noqa
from tlslib import make_cert, starttls, pw_hash, b64, plain, client_context  # noqa

t = TAP()
PW_A, PW_B = "alice pass 1", "b0b-s3cret"
hash_a = pw_hash(PW_A, "sha-512")
hash_b = pw_hash(PW_B, "yescrypt")
scheme_b = "yescrypt"
if hash_b is None:
    hash_b, scheme_b = pw_hash(PW_B, "sha-512"), "sha-512"
t.diag("alice: %s, bob: %s" % (hash_a[:3], hash_b[:3]))

tern = Tern(sources=(
    '  127.0.0.2/32: { require-auth: yes }\n'
    '  0/0: { always-allow-relaying: no }\n'))
cert, key = make_cert(tern.dir, "a")
port2 = free_port()
extra = (
    "smtp-server-tls-certificate: %s\n"
    "smtp-server-tls-private-key: %s\n"
    "max-auth-failures: 5/10m\n"
    "smtp-users:\n"
    "  alice: { password-hash: \"%s\" }\n"
    "  bob:\n"
    "    password-hash: \"%s\"\n"
    "    virtual-mtas: [mta2]\n"
    "    default-virtual-mta: mta2\n" % (cert, key, hash_a, hash_b))
tern.write_config(tern.config_text(tern.extra + extra).replace(
    'smtp-listener: ["127.0.0.1:%d"]\n' % tern.port,
    'smtp-listener:\n'
    '  - "127.0.0.1:%d"\n'
    '  - {address: "127.0.0.1:%d", auth-without-tls: yes}\n'
    % (tern.port, port2)))


def session(source=None, port=None, tls=True, name="c.test"):
    c = SMTP(port or tern.port, source=source)
    c.reply()
    c.cmd("EHLO " + name)
    if tls:
        c.cmd("STARTTLS")
        starttls(c)
        c.cmd("EHLO " + name)
    return c


def ehlo_exts(c):
    code, text = c.cmd("EHLO again.test")
    return [l[4:] for l in text.splitlines()[1:]]


def send(c, rcpt, body=b"Subject: t\r\n\r\nx\r\n"):
    """MAIL, RCPT, DATA: the replies' codes and the last text."""
    r = [c.cmd("MAIL FROM:<s@test.example>")[0],
         c.cmd("RCPT TO:<%s>" % rcpt)[0]]
    code, text = c.cmd("DATA")
    r.append(code)
    if code != 354:
        return r, text
    c.send(body + b".\r\n")
    code, text = c.reply()
    r.append(code)
    return r, text


def spool_body(text):
    qid = text.split()[2] if text.startswith("250") else None
    p = qid and wait_for(lambda: tern.spool_files().get(qid), 5)
    return parse_queue_file(p)[1] if p else b""


try:
    tern.start()

    # --- before TLS ------------------------------------------------------
    c = session(tls=False)
    t.ok(not any(e.startswith("AUTH") for e in ehlo_exts(c)),
         "no AUTH offered before TLS")
    code, text = c.cmd("AUTH PLAIN " + plain("alice", PW_A))
    t.ok(code == 538 and "5.7.11" in text, "AUTH before TLS: 538 5.7.11",
         text)
    c.close()

    # --- PLAIN, relaying -------------------------------------------------
    c = session()
    t.ok("AUTH PLAIN LOGIN" in ehlo_exts(c), "AUTH PLAIN LOGIN offered "
         "after STARTTLS")
    c.cmd("MAIL FROM:<s@test.example>")
    code, text = c.cmd("RCPT TO:<r@relay.example>")
    t.ok(code == 550 and "5.7.1" in text, "no AUTH, no relay source: "
         "RCPT gets 550 5.7.1", text)
    c.cmd("RSET")
    code, text = c.cmd("AUTH PLAIN " + plain("alice", PW_A))
    t.is_((code, text), (235, "235 2.7.0 Authentication successful"),
          "AUTH PLAIN with the right password: 235 2.7.0")
    r, text = send(c, "r@relay.example")
    t.is_(r, [250, 250, 354, 250], "after AUTH the client may relay")
    body = spool_body(text)
    t.ok(b"with ESMTPSA id" in body, "Received: with ESMTPSA", body[:300])
    code, text = c.cmd("AUTH PLAIN " + plain("alice", PW_A))
    t.ok(code == 503 and "5.5.1" in text, "AUTH twice: 503 5.5.1", text)
    c.cmd("QUIT")
    c.close()
    t.ok(wait_for(lambda: "auth ok user=alice client=127.0.0.1" in
                  tern.logtext(), 5), "logged: auth ok user=alice")

    # --- LOGIN: smtplib (initial response), raw (two 334s) ---------------
    s = smtplib.SMTP("127.0.0.1", tern.port, timeout=30)
    s.starttls(context=client_context())
    s.ehlo("py.test")
    s.user, s.password = "alice", PW_A
    code, _ = s.auth("LOGIN", s.auth_login)
    t.is_(code, 235, "smtplib AUTH LOGIN: 235")
    t.is_(s.sendmail("s@test.example", ["py@relay.example"],
                     b"Subject: p\r\n\r\nx\r\n", mail_options=["AUTH=<>"]),
          {}, "smtplib: relayed, MAIL FROM with AUTH=<> accepted")
    s.quit()

    c = session()
    code, text = c.cmd("AUTH LOGIN")
    t.is_((code, text), (334, "334 VXNlcm5hbWU6"), "AUTH LOGIN: 334 "
          "Username:")
    code, text = c.cmd(b64("alice"))
    t.is_((code, text), (334, "334 UGFzc3dvcmQ6"), "then 334 Password:")
    t.is_(c.cmd(b64(PW_A))[0], 235, "AUTH LOGIN with the right password: "
          "235")
    c.close()

    # PLAIN without an initial response
    c = session()
    t.is_(c.cmd("AUTH PLAIN"), (334, "334 "), "AUTH PLAIN: empty 334")
    t.is_(c.cmd(plain("alice", PW_A))[0], 235, "PLAIN response: 235")
    c.close()

    # --- failures: from 127.0.0.5 (four, under the limit) ----------------
    a = session(source="127.0.0.5")
    b = session()
    t0 = time.time()
    a.send("AUTH PLAIN %s\r\n" % plain("alice", "wrong"))
    time.sleep(0.2)
    t1 = time.time()
    code_b = b.cmd("NOOP")[0]
    t_noop = time.time() - t1
    code, text = a.reply()
    t_fail = time.time() - t0
    t.is_((code, text), (535, "535 5.7.8 Authentication credentials "
                               "invalid"), "wrong password (PLAIN): 535 5.7.8")
    t.ok(t_fail >= 0.9, "the 535 comes after a delay (%.2f s)" % t_fail)
    t.ok(code_b == 250 and t_noop < 0.5, "meanwhile another session is "
         "served at once (%.3f s)" % t_noop)
    b.close()
    a.cmd("AUTH LOGIN " + b64("alice"))
    t.is_(a.cmd(b64("also wrong"))[0], 535, "wrong password (LOGIN): 535")
    t.is_(a.cmd("AUTH PLAIN " + plain("mallory", PW_A))[0], 535,
          "unknown user: 535")
    t.is_(a.cmd("AUTH PLAIN " + plain("alice", PW_A, authzid="bob"))[0],
          535, "PLAIN with another user's authzid: 535")
    t.is_(a.cmd("MAIL FROM:<s@test.example>")[0], 250, "session still "
          "usable after failures")
    code, text = a.cmd("RCPT TO:<r@relay.example>")
    t.is_(code, 550, "and still may not relay")
    a.close()
    t.ok(wait_for(lambda: "auth failed user=alice client=127.0.0.5" in
                  tern.logtext(), 5),
         "logged: auth failed user=alice client=127.0.0.5")

    # --- malformed responses (not counted as failures) -------------------
    c = session()
    t.is_(c.cmd("AUTH PLAIN !!!!")[0], 501, "bad base64: 501")
    t.is_(c.cmd("AUTH PLAIN ab=c")[0], 501, "padding inside base64: 501")
    c.cmd("AUTH PLAIN")
    t.is_(c.cmd("*"), (501, "501 5.0.0 Authentication cancelled"),
          "\"*\" cancels: 501 5.0.0")
    t.is_(c.cmd("AUTH CRAM-MD5")[0], 504, "unknown mechanism: 504")
    t.is_(c.cmd("AUTH PLAIN " + b64("a\0alice\0%s\0x" % PW_A))[0], 501,
          "PLAIN with a third NUL: 501")
    t.is_(c.cmd("AUTH PLAIN " + b64("\0alice\0" + "p" * 600))[0], 500,
          "a response over 512 bytes decoded: 500 5.5.6")
    c.cmd("AUTH LOGIN")
    t.is_(c.cmd(b64("ali\0ce"))[0], 501, "LOGIN user name with a NUL: 501")
    t.is_(c.cmd("AUTH PLAIN " + plain("alice", PW_A))[0], 235,
          "then a good AUTH still works")
    c.close()

    # --- max-auth-failures: 5 from 127.0.0.4, then 454 --------------------
    cs = [session(source="127.0.0.4") for _ in range(3)]
    for i, c in enumerate(cs):           # in parallel: one delay in all
        c.send("AUTH PLAIN %s\r\n" % plain("alice", "bad%d" % i))
    codes = [c.reply()[0] for c in cs]
    for i, c in enumerate(cs[:2]):
        c.send("AUTH PLAIN %s\r\n" % plain("alice", "worse%d" % i))
    codes += [c.reply()[0] for c in cs[:2]]
    t.is_(codes, [535] * 5, "five failures from 127.0.0.4")
    code, text = cs[2].cmd("AUTH PLAIN " + plain("alice", PW_A))
    t.ok(code == 454 and "4.7.0" in text, "the sixth AUTH gets 454 4.7.0, "
         "even with the right password", text)
    for c in cs:
        c.close()
    c = session(source="127.0.0.4")
    t.is_(c.cmd("AUTH LOGIN")[0], 454, "a new session from there: 454 too")
    c.close()
    t.ok(wait_for(lambda: "auth refused client=127.0.0.4: too many "
                  "failures" in tern.logtext(), 5), "logged: auth refused")
    c = session()
    t.is_(c.cmd("AUTH PLAIN " + plain("alice", PW_A))[0], 235,
          "other addresses are not affected")
    c.close()

    # --- require-auth (source 127.0.0.2) ----------------------------------
    c = session(source="127.0.0.2")
    code, text = c.cmd("MAIL FROM:<s@test.example>")
    t.is_((code, text), (530, "530 5.7.0 Authentication required"),
          "require-auth: MAIL without AUTH gets 530 5.7.0")
    c.cmd("AUTH PLAIN " + plain("alice", PW_A))
    t.is_(c.cmd("MAIL FROM:<s@test.example>")[0], 250,
          "require-auth: MAIL after AUTH is accepted")
    c.close()

    # --- bob: held to mta2 -----------------------------------------------
    c = session()
    t.is_(c.cmd("AUTH PLAIN " + plain("bob", PW_B))[0], 235,
          "bob (%s hash) authenticates" % scheme_b)
    r, text = send(c, "b1@bob.example",
                   b"X-Virtual-MTA: mta1\r\nSubject: b\r\n\r\nx\r\n")
    t.ok(r == [250, 250, 354, 550] and "5.7.1" in text,
         "X-Virtual-MTA: mta1 (not bob's): 550 5.7.1 at the final dot",
         (r, text))
    r, text = send(c, "b2@bob.example",
                   b"X-Virtual-MTA: mta2\r\nSubject: b\r\n\r\nx\r\n")
    t.is_(r, [250, 250, 354, 250], "X-Virtual-MTA: mta2 accepted")
    r, text = send(c, "b3@bob.example")
    t.is_(r, [250, 250, 354, 250], "no X-Virtual-MTA: accepted")
    c.close()
    q = tern.queues()
    t.ok(q and q.get("bob.example/mta2", {}).get("rcpts") == 2 and
         "bob.example/mta1" not in q, "both of bob's messages go through "
         "mta2 (his default)", q)
    t.ok(wait_for(lambda: "X-Virtual-MTA \"mta1\" not allowed" in
                  tern.logtext(), 5), "the refusal is logged")

    # hashing does not stall the event loop: 12 AUTHs (about 30 ms of
    # CPU each with yescrypt) at once, and a NOOP elsewhere meanwhile
    if scheme_b == "yescrypt":
        cs = [session() for _ in range(12)]
        other = session()
        for c in cs:
            c.send("AUTH PLAIN %s\r\n" % plain("bob", PW_B))
        time.sleep(0.02)
        t0 = time.time()
        code = other.cmd("NOOP")[0]
        t_noop = time.time() - t0
        t0 = time.time()
        codes = [c.reply()[0] for c in cs]
        t_all = time.time() - t0
        t.ok(codes == [235] * 12, "12 concurrent yescrypt AUTHs: all 235",
             codes)
        t.ok(code == 250 and t_noop < 0.2, "a NOOP meanwhile is answered "
             "in %.3f s (hashing took %.3f s more)" % (t_noop, t_all))
        for c in cs + [other]:
            c.close()

    # alice (no list) may name any virtual-mta, default stays the source's
    c = session()
    c.cmd("AUTH PLAIN " + plain("alice", PW_A))
    r, text = send(c, "a1@alice.example",
                   b"X-Virtual-MTA: mta2\r\nSubject: a\r\n\r\nx\r\n")
    send(c, "a2@alice.example")
    c.close()
    q = tern.queues()
    t.ok(q and "alice.example/mta2" in q and "alice.example/mta1" in q,
         "a user without virtual-mtas: X-Virtual-MTA honoured, else the "
         "default", q)

    # --- auth-without-tls on a loopback listener ---------------------------
    c = session(port=port2, tls=False)
    exts = ehlo_exts(c)
    t.ok("AUTH PLAIN LOGIN" in exts and "STARTTLS" in exts,
         "auth-without-tls listener: AUTH offered in clear", exts)
    t.is_(c.cmd("AUTH PLAIN " + plain("alice", PW_A))[0], 235,
          "AUTH in clear on that listener: 235")
    r, text = send(c, "clear@relay.example")
    t.is_(r, [250, 250, 354, 250], "and it may relay")
    body = spool_body(text)
    t.ok(b"with ESMTPA id" in body, "Received: with ESMTPA", body[:300])
    c.cmd("STARTTLS")
    starttls(c)
    c.cmd("EHLO again.test")
    c.cmd("MAIL FROM:<s@test.example>")
    t.is_(c.cmd("RCPT TO:<x@relay.example>")[0], 550,
          "STARTTLS forgets the AUTH: relaying refused again")
    c.close()
finally:
    tern.finish(t, check=lambda rc: t.is_(rc, 0, "ternd exits 0"))
t.done()
