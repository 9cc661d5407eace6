#!/usr/bin/env python3
"""deploy_test.py BUILD_DIR SOURCE_DIR: checks deploy/ (issue 14).

- `cmake --install` into a temporary prefix lays out the binary, the man
  page and bash completion generated from --help, the example config and
  the systemd units;
- `systemd-analyze verify` accepts the units (skipped, with the reason, when
  systemd-analyze is absent);
- the Dockerfile is linted structurally (Debian 12 stages, multi-stage,
  non-root runtime user, no pipe-to-shell downloads) and compose.yaml parses
  as YAML with PostgreSQL 15, postino and healthchecks; when `docker info`
  works the image is built too.
Exit 0 on success, 1 with every problem listed.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

problems = []


def check(cond, what):
    if not cond:
        problems.append(what)


def install_layout(build, tmp):
    prefix = os.path.join(tmp, "prefix")
    r = subprocess.run(["cmake", "--build", build, "--target", "postino_docs"],
                       capture_output=True, text=True)
    check(r.returncode == 0, "building postino_docs failed:\n" + r.stdout[-2000:] + r.stderr[-2000:])
    r = subprocess.run(["cmake", "--install", build, "--prefix", prefix],
                       capture_output=True, text=True)
    check(r.returncode == 0, "cmake --install failed:\n" + r.stderr[-2000:])
    for rel in ["bin/postino", "share/man/man1/postino.1",
                "share/bash-completion/completions/postino",
                "share/doc/postino/postino.toml.example", "share/doc/postino/operations.md",
                "lib/systemd/system/postino.service", "lib/systemd/system/postino-cron.service",
                "lib/systemd/system/postino-cron.timer", "lib/sysusers.d/postino.conf"]:
        check(os.path.exists(os.path.join(prefix, rel)), "not installed: " + rel)
    man = os.path.join(prefix, "share/man/man1/postino.1")
    if os.path.exists(man):
        text = open(man).read()
        for needle in [".TH POSTINO 1", "postino queue retry\\-now", "postino dns check",
                       "\\-\\-log\\-format", "postino campaign launch"]:
            check(needle in text, "man page lacks " + needle)
        if shutil.which("man"):
            r = subprocess.run(["man", "-l", "-Tutf8", man], capture_output=True, text=True)
            check(r.returncode == 0 and "config check" in r.stdout, "man -l cannot render the page")
    comp = os.path.join(prefix, "share/bash-completion/completions/postino")
    if os.path.exists(comp):
        script = ("source %s; COMP_WORDS=(postino queue re); COMP_CWORD=2; _postino; "
                  "echo ${COMPREPLY[@]}" % comp)
        r = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
        check(r.stdout.split() == ["retry-now", "release"],
              "completion of `postino queue re` gave %r" % r.stdout)
    service = os.path.join(prefix, "lib/systemd/system/postino.service")
    if os.path.exists(service):
        text = open(service).read()
        for needle in ["User=postino", "ProtectSystem=strict", "ReadWritePaths=/var/lib/postino",
                       "NoNewPrivileges=true", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
                       "Restart=on-failure", "ExecReload=/bin/kill -HUP $MAINPID"]:
            check(needle in text, "postino.service lacks " + needle)
        check(re.search(r"^ExecStart=/\S*/bin/postino run$", text, re.M),
              "postino.service: no ExecStart=.../bin/postino run")
    cron = os.path.join(prefix, "lib/systemd/system/postino-cron.service")
    if os.path.exists(cron):
        check("postino run --until-idle" in open(cron).read(), "postino-cron.service: no --until-idle")
    return prefix


def systemd_verify(prefix, tmp):
    tool = shutil.which("systemd-analyze")
    if not tool:
        print("deploy_test: SKIP systemd-analyze verify: systemd-analyze is not installed")
        return
    units = os.path.join(tmp, "units")
    os.makedirs(units)
    # The units name the configured install prefix's binary; point them at
    # the one just installed so verify can check the command exists.
    binary = os.path.join(prefix, "bin/postino")
    for name in ["postino.service", "postino-cron.service", "postino-cron.timer"]:
        text = open(os.path.join(prefix, "lib/systemd/system", name)).read()
        text = re.sub(r"/\S*/bin/postino\b", binary, text)
        with open(os.path.join(units, name), "w") as f:
            f.write(text)
    paths = [os.path.join(units, n) for n in sorted(os.listdir(units))]
    r = subprocess.run([tool, "verify", "--man=no", *paths], capture_output=True, text=True,
                       env={**os.environ, "SYSTEMD_UNIT_PATH": units + ":"})
    # Only complaints about our own units count (the host's units may be odd).
    ours = [l for l in (r.stdout + r.stderr).splitlines() if "postino" in l]
    check(r.returncode == 0 and not ours, "systemd-analyze verify:\n" + r.stdout + r.stderr)


def lint_docker(source):
    path = os.path.join(source, "deploy/Dockerfile")
    text = open(path).read()
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    check(len(froms) >= 2, "Dockerfile: not multi-stage")
    check(all(f.startswith("debian:12") for f in froms), "Dockerfile: every stage FROM debian:12, got %s" % froms)
    last = text[text.rfind("\nFROM "):]
    users = re.findall(r"^USER\s+(\S+)", last, re.M)
    check(users and users[-1] not in ("root", "0"), "Dockerfile: runtime stage must set a non-root USER")
    check("-dev" not in re.sub(r"#.*", "", last), "Dockerfile: -dev packages in the runtime stage")
    check(not re.search(r"(curl|wget)[^\n|]*\|\s*(ba)?sh", text), "Dockerfile: pipe-to-shell download")
    check(not re.search(r"^ADD\s+https?:", text, re.M), "Dockerfile: ADD of a URL")
    check("COPY --from=build" in last, "Dockerfile: runtime stage does not copy from the build stage")
    try:
        import yaml
    except ImportError:
        print("deploy_test: SKIP compose.yaml parse: python3-yaml is not installed")
        return
    compose = yaml.safe_load(open(os.path.join(source, "deploy/compose.yaml")))
    services = compose.get("services", {})
    check(str(services.get("db", {}).get("image", "")).startswith("postgres:15"),
          "compose: no db service on postgres:15")
    check("postino" in services, "compose: no postino service")
    for name in ("db", "postino"):
        check("healthcheck" in services.get(name, {}), "compose: %s has no healthcheck" % name)
    check("POSTINO_DATABASE_URL" in services.get("postino", {}).get("environment", {}),
          "compose: postino has no POSTINO_DATABASE_URL")


def docker_build(source):
    if not shutil.which("docker") or subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        print("deploy_test: SKIP docker build: no working Docker engine (`docker info` failed)")
        return
    r = subprocess.run(["docker", "build", "-f", "deploy/Dockerfile", "-t", "postino:test", "."],
                       cwd=source, capture_output=True, text=True)
    check(r.returncode == 0, "docker build failed:\n" + r.stderr[-3000:])


def main():
    build, source = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        prefix = install_layout(build, tmp)
        systemd_verify(prefix, tmp)
    lint_docker(source)
    docker_build(source)
    for p in problems:
        print("deploy_test: " + p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
