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

extras = ["john.doe@example.com", "4111 1111 1111 1111", "555-123-4567", "password", "fraud"]
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
}
for name, text in hostile.items():
    with open(os.path.join(out, "hostile-%s.txt" % name), "w") as f:
        f.write(text)
