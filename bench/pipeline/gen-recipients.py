#!/usr/bin/env python3
"""gen-recipients.py N OUT.csv: writes N unique recipients (header
email,first_name,last_name,city,plan) over reserved example domains, for the
end-to-end pipeline benchmark. Deterministic; every address is under
example.* and the benchmark routes all mail to a loopback sink anyway."""
import sys

n = int(sys.argv[1])
first = ["Anna", "Zoë", "José", "Łukasz", "Søren", "Chloé", "Jürgen", "Giulia", "Luca", "Ömer",
         "Marco", "Sofia", "Paolo", "Elena", "Юлия", "李"]
last = ["Rossi", "Müller", "García", "Kowalski", "Dubois", "Bianchi", "Cohen", "Sharma",
        "Lindqvist", "Smirnov", "Ferrari", "Esposito"]
cities = ["Roma", "Milano", "München", "Kraków", "São Paulo", "Zürich", "Paris", "Torino",
          "Napoli", "Bologna"]
domains = ["example.com", "example.org", "example.net", "mail.example.com", "posta.example.it",
           "correo.example.es", "news.example.de", "mx.example.fr"]
plans = ["free", "pro", "team", ""]
with open(sys.argv[2], "w", encoding="utf-8", newline="") as out:
    w = out.write
    w("email,first_name,last_name,city,plan\n")
    for i in range(n):
        w(f"user{i:07d}@{domains[i % 8]},{first[i % 16]},{last[(i // 16) % 12]},"
          f"{cities[(i // 7) % 10]},{plans[(i // 3) % 4]}\n")
