#!/usr/bin/env python3
"""Writes examples/recipients.csv: 1,000 demo recipients over several
domains, with accented and non-Latin names. Deterministic (fixed seed).
Every domain is under .example or example.*, reserved names that never
receive real mail; the demo routes everything to a local sink anyway."""
import csv
import random
import sys

random.seed(20261126)
first = ["Anna", "Zoë", "José", "Łukasz", "Søren", "Chloé", "Jürgen", "Ana María", "Björk",
         "François", "Nuño", "Dvořák", "Ελένη", "Юлия", "Дмитрий", "李", "王芳", "さくら",
         "محمد", "أمينة", "דוד", "Ngọc", "Aarav", "Siobhán", "Mateusz", "Giulia", "Luca",
         "Ömer", "Çağla", "Håkon"]
last = ["Rossi", "Müller", "García", "Kowalski", "Ødegaard", "Dubois", "Nováková", "Papadopoulos",
        "Иванова", "Смирнов", "张", "佐藤", "Haddad", "Cohen", "Nguyễn", "Sharma", "O'Brien",
        "Bianchi", "Yılmaz", "Lindqvist"]
cities = ["Roma", "Milano", "München", "Kraków", "São Paulo", "Zürich", "Αθήνα", "Москва",
          "東京", "القاهرة", "Paris", "Reykjavík"]
domains = ["example.com", "example.org", "example.net", "mail.example.com", "posta.example.it",
           "correo.example.es", "bücher.example", "例え.example"]
weights = [30, 20, 15, 10, 10, 8, 4, 3]

out = csv.writer(open(sys.argv[1] if len(sys.argv) > 1 else "examples/recipients.csv", "w",
                      newline="", encoding="utf-8"), lineterminator="\n")
out.writerow(["email", "first_name", "last_name", "city", "plan"])
for i in range(1000):
    f = random.choice(first)
    l = random.choice(last)
    d = random.choices(domains, weights)[0]
    out.writerow([f"user{i:04d}@{d}", f, l, random.choice(cities),
                  random.choice(["free", "pro", "team"])])
