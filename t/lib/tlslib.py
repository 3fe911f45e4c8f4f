"""tlslib - test certificates, password hashes and STARTTLS for the tests.

Used by t/90-tls-in.t and t/91-auth.t.  Certificates and keys are made
with the openssl command in the test's own directory (never committed);
password hashes with mkpasswd (Debian's whois package), else Python's
crypt module, else "openssl passwd -6".
"""
import base64
import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import warnings


def make_cert(directory, name, cn="mta1.test.example"):
    """A self-signed RSA certificate and its key (mode 0600) in
    directory as NAME.crt and NAME.key; returns their paths."""
    cert = os.path.join(directory, name + ".crt")
    key = os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=" + cn], check=True, timeout=60,
                   capture_output=True)
    os.chmod(key, 0o600)
    return cert, key


def cert_fingerprint(path):
    """sha256 of a PEM certificate file, hex."""
    with open(path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha256(der).hexdigest()


def client_context(maximum=None):
    """A client context that does not verify (self-signed test certs)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if maximum is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
            ctx.maximum_version = maximum
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


def starttls(c, ctx=None):
    """Switch a ternlib.SMTP client to TLS after its 220 to STARTTLS.
    Returns the sha256 of the certificate the server presented."""
    if c.buf:
        raise RuntimeError("data left in the clear buffer: %r" % c.buf)
    c.s = (ctx or client_context()).wrap_socket(c.s)
    return hashlib.sha256(c.s.getpeercert(binary_form=True)).hexdigest()


def handshake_fingerprint(port, host="127.0.0.1"):
    """Connect, EHLO, STARTTLS; the sha256 of the server's certificate."""
    from ternlib import SMTP
    c = SMTP(port, host)
    try:
        c.reply()
        c.cmd("EHLO fp.test")
        code, text = c.cmd("STARTTLS")
        if code != 220:
            return None
        return starttls(c)
    finally:
        c.close()


def nothing_pending(sock, wait=0.5):
    """True if no bytes arrive on sock within wait seconds."""
    old = sock.gettimeout()
    sock.settimeout(wait)
    try:
        return sock.recv(4096) == b""     # EOF counts as nothing
    except (socket.timeout, ssl.SSLWantReadError):
        return True
    finally:
        sock.settimeout(old)


def pw_hash(password, scheme="sha-512"):
    """A crypt(3) hash: scheme "sha-512" ($6$) or "yescrypt" ($y$);
    None if no tool here makes that scheme."""
    if shutil.which("mkpasswd"):
        r = subprocess.run(["mkpasswd", "-m", scheme, password],
                           capture_output=True, text=True, timeout=30)
        if r.returncode == 0 and r.stdout.startswith("$"):
            return r.stdout.strip()
    if scheme == "sha-512":
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import crypt
            return crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512))
        except ImportError:
            pass
        r = subprocess.run(["openssl", "passwd", "-6", password],
                           capture_output=True, text=True, timeout=30)
        if r.returncode == 0:
            return r.stdout.strip()
    return None


def b64(s):
    """base64 of a str or bytes, as str."""
    if isinstance(s, str):
        s = s.encode()
    return base64.b64encode(s).decode()


def plain(user, password, authzid=""):
    """An AUTH PLAIN response (RFC 4616)."""
    return b64("%s\0%s\0%s" % (authzid, user, password))
