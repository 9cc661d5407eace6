#!/usr/bin/env bash
# install-deps.sh: installs every build, test and demo dependency of postino
# from Debian 12 packages. Idempotent and non-interactive; run as root.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config ccache clang-14 libclang-rt-14-dev
  libuv1-dev libssl-dev libpqxx-dev libpq-dev libfmt-dev nlohmann-json3-dev
  libtomlplusplus-dev libcli11-dev libc-ares-dev libidn2-dev libhowardhinnant-date-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # every rule over peer text (SMTP replies, bounce wording, policy patterns)
  libre2-dev
  # issue 12: Argon2id password hashes of submission users
  libargon2-dev
  # inbound/returns: bounce and complaint parsing (issue 13)
  libgmime-3.0-dev
  # test and demo peers
  postgresql-15 postgresql-client-15 postfix swaks libnet-ssleay-perl curl python3 python3-dkim
  dnsmasq-base openssl tzdata util-linux procps
  # http/ (issue 13): the listener library; browser (also the HTML campaign
  # report's test, issue 14), metrics linter and load tools for its tests
  libmicrohttpd-dev chromium prometheus apache2-utils wrk
  # deploy/ checks (tests/build/deploy_test.py): compose.yaml parsing, man -l,
  # systemd-analyze verify of the units (nothing is started)
  python3-yaml man-db systemd
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}) and not root; run as root" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Postfix asks how to configure itself; postino only uses its smtp-sink,
# smtp-source and posttls-finger tools, so no mail system is configured.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string localhost" | debconf-set-selections
# Do not start services from package scripts (no PostgreSQL cluster, no postfix).
policy_rc=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy_rc" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy_rc"; chmod +x "$policy_rc"; created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy_rc"' EXIT

apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${#missing[@]} packages"
