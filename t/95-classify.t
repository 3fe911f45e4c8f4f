#!/usr/bin/python3
# 95-classify.t - tern classify over the real bounces of the shared corpus.
#
# Purpose:      runs "build/sbin/tern classify --json" over every
#               ../shared/corpus/bounces/arf-*.eml and checks that each
#               yields an ARF report with its feedback type and original
#               recipient (the values below were read from the files:
#               Original-Rcpt-To, Removal-Recipient, else the first To of
#               the returned message; "" where the report names nobody,
#               e.g. "To: <Undisclosed Recipients>"; Sisimai agrees on
#               every one it names), then over a few lhost-*.eml and
#               rfc3464-*.eml checking recipient and status (Sisimai's
#               reading of the same files), and that a file with no
#               report makes tern exit 1.  Skipped ("1..0 # SKIP") when
#               the corpus is absent.
# Used by:      prove (make check).
# Trust:        the corpus files are only read.
# Spool access: none.
# See:          common/dsnparse.h, ctl/classify.c, bench/bounce-agree.sh.
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ternlib import TAP, TERN  # noqa

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "..", "shared", "corpus", "bounces")
if not os.path.isdir(CORPUS):
    print("1..0 # SKIP no bounce corpus at %s" % CORPUS)
    sys.exit(0)

ARF = {
    "arf-01.eml": ("abuse", "redacted@example.net"),
    "arf-02.eml": ("abuse",
                   "this-local-part-does-not-exist-on-yahoo@yahoo.com"),
    "arf-11.eml": ("abuse", ""),
    "arf-12.eml": ("opt-out", "user@example.com"),
    "arf-14.eml": ("abuse", "kijitora@y.example.com"),
    "arf-15.eml": ("abuse", ""),
    "arf-16.eml": ("abuse", "kijitora@example.com"),
    "arf-17.eml": ("abuse", "kijitora@example.com"),
    "arf-18.eml": ("auth-failure", "kijitora@example.com"),
    "arf-19.eml": ("auth-failure", "kijitora@example.org"),
}

BOUNCES = {
    "rfc3464-01.eml": ("userunknown@bouncehammer.jp", "5.1.1"),
    "lhost-postfix-01.eml": ("r@p351355.pool.example.ne.jp", "5.1.1"),
    "lhost-exim-01.eml": ("kijitora@example.ed.jp", "5.7.0"),
    "lhost-sendmail-01.eml": ("userunknown@bouncehammer.jp", "5.1.1"),
    "lhost-qmail-01.eml": ("kijitora@example.ne.jp", "5.5.0"),
    "lhost-office365-01.eml": ("kijitora@example.com", "5.1.10"),
    "lhost-yahoo-01.eml": ("kijitora@example.org", "5.1.1"),
}


def classify(files):
    r = subprocess.run([TERN, "classify", "--json"] + files,
                       capture_output=True, text=True)
    return r.returncode, json.loads(r.stdout) if r.stdout else []


t = TAP()
arfs = sorted(f for f in os.listdir(CORPUS)
              if f.startswith("arf-") and f.endswith(".eml"))
t.ok(len(arfs) > 0, "the corpus has ARF reports (%d)" % len(arfs))
rc, out = classify([os.path.join(CORPUS, f) for f in arfs])
t.is_(rc, 0, "every ARF file yields a report")
got = {os.path.basename(o["file"]): o for o in out}
for f in arfs:
    a = got.get(f, {}).get("arf", {})
    want = ARF.get(f)
    if want is None:
        t.ok(a.get("feedback_type", "") != "",
             "%s: a feedback type (%r)" % (f, a.get("feedback_type")))
        continue
    t.is_((a.get("feedback_type"), a.get("original_recipient")), want,
          "%s: feedback type and original recipient" % f)

files = [f for f in sorted(BOUNCES) if os.path.exists(os.path.join(CORPUS, f))]
rc, out = classify([os.path.join(CORPUS, f) for f in files])
t.is_(rc, 0, "every bounce yields a report")
got = {os.path.basename(o["file"]): o for o in out}
for f in files:
    reps = got.get(f, {}).get("reports", [])
    t.is_([(r["recipient"], r["status"]) for r in reps][:1], [BOUNCES[f]],
          "%s: recipient and status" % f)
    t.ok(all(r["category"] for r in reps), "%s: a category" % f)

with tempfile.NamedTemporaryFile("w", suffix=".eml") as tmp:
    tmp.write("Subject: hello\n\njust a letter\n")
    tmp.flush()
    r = subprocess.run([TERN, "classify", tmp.name], capture_output=True)
    t.is_(r.returncode, 1, "a message with no report: exit 1")
t.done()
