"""Unix password hashes for ``#CRYPT#``: MD5-crypt ($1$), SHA-256-crypt ($5$), SHA-512-crypt ($6$).

Python's ``crypt`` module is gone (3.13) and glibc's may not be reachable, so
the three algorithms installers accept are implemented here from their
published descriptions (Poul-Henning Kamp's MD5-crypt; Ulrich Drepper's
"Unix crypt using SHA-256 and SHA-512"); the tests check them against the
vectors published with those descriptions.  (``passlib`` is not installed
here, so nothing depends on it.)
"""

from __future__ import annotations

import hashlib
import secrets

_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

METHODS = {"md5": "1", "sha256": "5", "sha512": "6"}
DEFAULT_METHOD = "sha256"
_ROUNDS_DEFAULT = 5000
_ROUNDS_MIN = 1000
_ROUNDS_MAX = 999_999_999


def is_hashed(value: str) -> bool:
    """True for a value that already is an MD5/SHA-crypt hash (passed through as is)."""
    return value.startswith(("$1$", "$5$", "$6$"))


def new_salt(length: int = 8) -> str:
    return "".join(secrets.choice(_ITOA64) for _ in range(length))


def hash_password(password: str, method: str | None = None, salt: str | None = None) -> str:
    """``password`` hashed with ``method`` (md5, sha256 or sha512; default sha256).

    A random 8-character salt unless ``salt`` is given (tests).  Raises
    ValueError for an unknown method.
    """
    name = (method or DEFAULT_METHOD).strip().lower() or DEFAULT_METHOD
    if name not in METHODS:
        raise ValueError(f"unknown crypt method '{method}' (use md5, sha256 or sha512)")
    if salt is None:
        salt = new_salt()
    ident = METHODS[name]
    if ident == "1":
        return md5_crypt(password, salt)
    return sha_crypt(password, f"${ident}${salt}")


def _b64_from_24bit(b2: int, b1: int, b0: int, n: int) -> str:
    w = (b2 << 16) | (b1 << 8) | b0
    out = []
    for _ in range(n):
        out.append(_ITOA64[w & 0x3F])
        w >>= 6
    return "".join(out)


def md5_crypt(password: str, salt: str) -> str:
    """MD5-crypt: ``$1$<salt>$<22 chars>``; salt truncated to 8 characters."""
    if salt.startswith("$1$"):
        salt = salt[3:]
    salt = salt.split("$", 1)[0][:8]
    pw = password.encode()
    sb = salt.encode()
    magic = b"$1$"
    alt = hashlib.md5(pw + sb + pw).digest()
    ctx = hashlib.md5(pw + magic + sb)
    n = len(pw)
    while n > 0:
        ctx.update(alt[: min(16, n)])
        n -= 16
    i = len(pw)
    while i:
        ctx.update(b"\x00" if i & 1 else pw[:1])
        i >>= 1
    final = ctx.digest()
    for r in range(1000):
        c = hashlib.md5()
        c.update(pw if r & 1 else final)
        if r % 3:
            c.update(sb)
        if r % 7:
            c.update(pw)
        c.update(final if r & 1 else pw)
        final = c.digest()
    f = final
    enc = (
        _b64_from_24bit(f[0], f[6], f[12], 4)
        + _b64_from_24bit(f[1], f[7], f[13], 4)
        + _b64_from_24bit(f[2], f[8], f[14], 4)
        + _b64_from_24bit(f[3], f[9], f[15], 4)
        + _b64_from_24bit(f[4], f[10], f[5], 4)
        + _b64_from_24bit(0, 0, f[11], 2)
    )
    return f"$1${salt}${enc}"


# Byte order of the final encoding (Drepper's specification, step 22).
_SHA256_ORDER = [
    (0, 10, 20), (21, 1, 11), (12, 22, 2), (3, 13, 23), (24, 4, 14),
    (15, 25, 5), (6, 16, 26), (27, 7, 17), (18, 28, 8), (9, 19, 29),
]
_SHA512_ORDER = [
    (0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4),
    (47, 5, 26), (6, 27, 48), (28, 49, 7), (50, 8, 29), (9, 30, 51),
    (31, 52, 10), (53, 11, 32), (12, 33, 54), (34, 55, 13), (56, 14, 35),
    (15, 36, 57), (37, 58, 16), (59, 17, 38), (18, 39, 60), (40, 61, 19),
    (62, 20, 41),
]


def sha_crypt(password: str, setting: str) -> str:
    """SHA-crypt for a setting ``$5$[rounds=N$]salt`` or ``$6$[rounds=N$]salt``."""
    if setting.startswith("$5$"):
        algo, ident = hashlib.sha256, "5"
    elif setting.startswith("$6$"):
        algo, ident = hashlib.sha512, "6"
    else:
        raise ValueError("setting must start with $5$ or $6$")
    rest = setting[3:]
    rounds = _ROUNDS_DEFAULT
    custom = False
    if rest.startswith("rounds="):
        spec, _, rest = rest.partition("$")
        try:
            rounds = int(spec[len("rounds="):])
        except ValueError:
            raise ValueError("bad rounds= value in crypt setting") from None
        rounds = max(_ROUNDS_MIN, min(_ROUNDS_MAX, rounds))
        custom = True
    salt = rest.split("$", 1)[0][:16]
    pw = password.encode()
    sb = salt.encode()
    size = algo().digest_size

    b = algo(pw + sb + pw).digest()
    a = algo(pw + sb)
    n = len(pw)
    while n > size:
        a.update(b)
        n -= size
    a.update(b[:n])
    i = len(pw)
    while i:
        a.update(b if i & 1 else pw)
        i >>= 1
    da = a.digest()

    dp_ctx = algo()
    for _ in range(len(pw)):
        dp_ctx.update(pw)
    dp = dp_ctx.digest()
    p = (dp * (len(pw) // size + 1))[: len(pw)]

    ds_ctx = algo()
    for _ in range(16 + da[0]):
        ds_ctx.update(sb)
    ds = ds_ctx.digest()
    s = (ds * (len(sb) // size + 1))[: len(sb)]

    c = da
    for r in range(rounds):
        h = algo()
        h.update(p if r & 1 else c)
        if r % 3:
            h.update(s)
        if r % 7:
            h.update(p)
        h.update(c if r & 1 else p)
        c = h.digest()

    if ident == "5":
        enc = "".join(_b64_from_24bit(c[x], c[y], c[z], 4) for x, y, z in _SHA256_ORDER)
        enc += _b64_from_24bit(0, c[31], c[30], 3)
    else:
        enc = "".join(_b64_from_24bit(c[x], c[y], c[z], 4) for x, y, z in _SHA512_ORDER)
        enc += _b64_from_24bit(0, 0, c[63], 2)
    prefix = f"${ident}$" + (f"rounds={rounds}$" if custom else "")
    return f"{prefix}{salt}${enc}"
