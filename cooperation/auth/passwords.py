"""What a password must be, in one place (NIST SP 800-63B): long enough, not one everybody tries first, not the
person's own address. No composition rules: they make passwords harder to remember, not to guess.

Hashed with Argon2id (argon2-cffi's defaults: time cost 3, 64 MiB, parallelism 4 — about 0.2 s on a 2-core
machine), which is what makes a stolen table expensive to try; the rules here make the first guesses miss."""

from functools import cache

from cooperation import i18n

MIN_LENGTH = 12
MAX_LENGTH = 1000  # Argon2 takes any length; this bounds the work one request can ask for


@cache
def _common() -> frozenset[str]:
    """The 30,000 most common passwords of zxcvbn's list (from leaked password dumps), lower-cased."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(p.lower() for p in FREQUENCY_LISTS["passwords"])


def problem(password: str, *, email: str | None = None) -> str | None:
    """Why this password is refused, in words for the form; None when it is fine."""
    if len(password) < MIN_LENGTH:
        return i18n.gettext("must be at least %(n)s characters (a few words make a good one)", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return i18n.gettext("must be at most %(n)s characters", n=MAX_LENGTH)
    folded = password.lower()
    if folded in _common() or (folded.rstrip("0123456789!.") in _common() and len(folded.rstrip("0123456789!.")) >= 6):
        return i18n.gettext("is one of the most common passwords; choose another")
    if len(set(folded)) < 4:
        return i18n.gettext("repeats too few different characters")
    address = (email or "").lower()
    local = address.split("@", 1)[0]
    if address and address in folded:
        return i18n.gettext("must not contain your e-mail address")
    if len(local) >= 4 and local in folded:  # the name before the @ is the first thing an attacker tries
        return i18n.gettext("must not contain the name in your e-mail address (%(local)s)", local=local)
    return None
