#!/usr/bin/env python3
"""Writes the detector benchmark's inputs (seeded, so every run measures the same text).

  detect_data.py OUTDIR  →  ascii.txt, cyrillic.txt (one ~200-byte message per line, 20,000 each),
                            hostile-*.txt (1 MiB each)
"""
import os, random, sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = random.Random(20261129)
en = ("the quick brown fox jumps over lazy dog hello team meeting tomorrow please review the document "
      "thanks regards project update my email is card number order shipped invoice attached call me at").split()
ru = ("привет команда встреча завтра пожалуйста проверьте документ спасибо проект обновление мой пароль "
      "почта номер карты заказ отправлен счёт позвоните мне").split()

def message(words, size, extras):
    parts, n = [], 0
    while n < size:
        # About one message in four carries something to find, as in a busy support inbox.
        w = rng.choice(words) if rng.random() > 0.008 else rng.choice(extras)
        parts.append(w)
        n += len(w.encode()) + 1
    return " ".join(parts)

# The four seed codes' findings and, since the v2 detectors, one of each new code (and near misses:
# a plus sign without a phone, words that start like a token prefix).
extras = ["john.doe@example.com", "4111 1111 1111 1111", "555-123-4567", "password", "fraud",
          "DE89 3704 0044 0532 0130 00", "+44 20 7946 0958", "ghp_1a2b3c4d5e6f7g8h9i0jKLMNOPQRSTUVWXYZ",
          "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLWJ5dGVz", "-----BEGIN RSA PRIVATE KEY-----",
          "AKIAIOSFODNN7EXAMPLE", "C++", "skip", "every", "github"]
with open(os.path.join(out, "ascii.txt"), "w") as f:
    for _ in range(20000):
        f.write(message(en, 200, extras) + "\n")
with open(os.path.join(out, "cyrillic.txt"), "w") as f:
    for _ in range(20000):
        f.write(message(ru, 200, extras) + "\n")
mib = 1 << 20
hostile = {
    "all-a": "a" * mib,
    "all-digits": "7" * mib,
    "all-at": "@" * mib,
    "a-at": "a@" * (mib // 2),
    "keyword-at-end": "x " * (mib // 2 - 4) + "password",
    # The shapes detectors-v2.md warns about: textbook regexes backtrack on them.
    "plus-digits-dots": ("+1.2" * (mib // 4))[:mib],
    "plus-run": ("+" * (mib - 12)) + "1 555 123 45",
    "base64url-dots": ("eyJhbGciOiJIUzI1NiJ9." * (mib // 21 + 1))[:mib],
    "eyJ-repeated": ("eyJ" * (mib // 3 + 1))[:mib],
    "aiza-hyphens": "AIza" + "-" * (mib - 4),
    "iban-groups": ("DE89 3704 " * (mib // 10 + 1))[:mib],
    "slack-segments": "xoxb-" + ("1-" * (mib // 2))[: mib - 5],
    "pem-dashes": ("-----BEGIN " * (mib // 11 + 1))[:mib],
}
for name, text in hostile.items():
    with open(os.path.join(out, "hostile-%s.txt" % name), "w") as f:
        f.write(text)
