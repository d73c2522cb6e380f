#!/usr/bin/env python3
"""The nine codes as a Presidio-style Python service would write them: one `re` pattern per
recognizer (case-insensitive where the format allows, as recognizers usually are), then a validator
in Python (IBAN mod-97 and country lengths, JWT base64url + json.loads). Timed on the detector
benchmark's inputs next to the Swift detector, as bench/old_checks.py times the four seed codes.

  v2_checks.py DATA_DIR [--no-hostile]

Textbook patterns backtrack on the hostile inputs detectors-v2.md lists; those are timed on a
prefix (16 KiB and 64 KiB) so the growth shows without waiting hours on the full MiB.
"""
import base64, binascii, json, re, sys

from old_checks import time_inputs

KEYWORDS = {"personal_data": {"password", "secret", "credentials"}, "fraud_attempt": {"fraud", "scam", "fake"}}
WORD = re.compile(r"\w+")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
CARD = re.compile(r"[0-9](?:[ -]?[0-9]){9,}")
IBAN = re.compile(r"(?<!\w)([A-Za-z]{2}[0-9]{2}(?:[ ]?[A-Za-z0-9]{1,4})+)(?!\w)")
PHONE = re.compile(r"(?<!\w)\+[1-9][0-9]*(?:[ .-]?\(?[0-9]+\)?)*(?!\w)")
API_KEY = re.compile(
    r"(?<![\w-])(?:(?:AKIA|ASIA)[A-Z0-9]{16}|gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{82}"
    r"|xox[baprs]-(?:[0-9]+-)+[A-Za-z0-9]{10,}|[sr]k_live_[A-Za-z0-9]{24,}|AIza[\w-]{35}"
    r"|npm_[A-Za-z0-9]{36})(?![\w-])")
PEM = re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----")
JWT = re.compile(r"(?<![\w.-])([\w-]+)\.([\w-]{2,})\.([\w-]{16,})\.*(?![\w.-])")
LENGTHS = dict((e[:2], int(e[2:])) for e in (
    "AD24 AL28 AT20 BA20 BE16 BG22 BY28 CH21 CY28 CZ24 DE22 DK18 EE20 ES24 FI18 FO18 FR27 GB22 GI23 GL18 "
    "GR27 HR21 HU28 IE22 IS26 IT27 LI21 LT20 LU20 LV21 MC27 MD24 ME22 MK19 MT31 NL18 NO15 PL28 PT25 RO24 "
    "RS22 SE24 SI19 SK24 SM27 UA29 VA22 XK20 AE23 AZ28 BH22 BR29 CR22 DO28 EG29 GE22 GT28 IL23 IQ23 JO30 "
    "KW30 KZ20 LB28 LC32 MR27 MU30 PK24 PS29 QA29 SA24 SC31 ST25 SV28 TL23 TN24 TR26 VG24").split())

def iban_ok(s):
    compact = s.replace(" ", "").upper()
    if LENGTHS.get(compact[:2]) != len(compact):
        return False
    return int("".join(str(int(c, 36)) for c in compact[4:] + compact[:4])) % 97 == 1

def depth(v, d=1):
    if isinstance(v, dict):
        return max([d] + [depth(x, d + 1) for x in v.values()])
    if isinstance(v, list):
        return max([d] + [depth(x, d + 1) for x in v])
    return d - 1

def jwt_ok(m):
    h, p, s = m.group(1), m.group(2), m.group(3)
    if any(len(x) % 4 == 1 for x in (h, p, s)):
        return False
    try:
        header = json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)).decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        return False
    return isinstance(header, dict) and isinstance(header.get("alg"), str) and depth(header) <= 16

def analyze(text):
    alerts = set()
    for w in WORD.findall(text):
        lw = w.lower()
        for code, words in KEYWORDS.items():
            if lw in words:
                alerts.add(code)
    if EMAIL.search(text):
        alerts.add("email_detected")
    if CARD.search(text):
        alerts.add("card_number_detected")
    if any(iban_ok(m.group(1)) for m in IBAN.finditer(text)):
        alerts.add("iban_detected")
    for m in PHONE.finditer(text):
        digits = sum(c.isdigit() for c in m.group(0))
        if 8 <= digits <= 15:
            alerts.add("phone_detected")
            break
    if API_KEY.search(text):
        alerts.add("api_key_detected")
    if PEM.search(text):
        alerts.add("private_key_detected")
    if any(jwt_ok(m) for m in JWT.finditer(text)):
        alerts.add("jwt_detected")
    return sorted(alerts)

if __name__ == "__main__":
    time_inputs(analyze, sys.argv[1], hostile="--no-hostile" not in sys.argv, ends=("keyword", "plus-run"))
