#!/usr/bin/env python3
"""module_deps_test.py: checks that the build enforces DESIGN.md's module table.

Each module library publishes its own headers through a per-target include
root (build/include/<target>, see postino_module_headers in the top-level
CMakeLists.txt). This test reads compile_commands.json and checks, for every
source file of a module, that the include roots it is compiled with belong to
modules DESIGN.md lets that module depend on (directly or through them). A
module that starts linking a forbidden one, even for a header only, fails here
and, because its sources could not find the header otherwise, at build time.

usage: module_deps_test.py BUILD_DIR SOURCE_DIR
"""
import json
import os
import re
import sys

# folder -> (library, folders it may depend on), from DESIGN.md "Modules".
MODULES = {
    "common": ("postino_common", []),
    "address": ("postino_address", ["common"]),
    "engine/smtp": ("postino_smtp", ["common"]),
    "engine/net": ("postino_net", ["common"]),
    # TLS wraps a net Transport (the Envoy model in STYLE.md).
    "engine/tls": ("postino_tls", ["common", "engine/net"]),
    "engine/policy": ("postino_policy", ["engine/smtp", "common"]),
    "engine/shaping": ("postino_shaping", ["common"]),
    "engine/delivery": ("postino_delivery", ["engine/smtp", "engine/net", "engine/tls",
                                             "engine/policy", "engine/shaping", "address",
                                             "common"]),
    # IDNA for header domains comes from address/, its one home.
    "templates": ("postino_templates", ["address", "common"]),
    "config": ("postino_config", ["common"]),
    "db": ("postino_db", ["common"]),
    "scheduler": ("postino_scheduler", ["engine/delivery", "templates", "db", "config",
                                        "address", "common"]),
    # templates: recipient tokens (VERP) and DSN messages.
    "inbound": ("postino_inbound", ["engine/smtp", "engine/net", "engine/tls", "db",
                                    "templates", "address", "common", "inbound/returns"]),
    # Returned mail (issue 13): parsing, matching, recording. engine/policy:
    # a returned reply is classified by the one place replies become
    # decisions (Policy::Classify), so a hard bounce by mail suppresses under
    # the same rule as a synchronous one.
    "inbound/returns": ("postino_inbound_returns", ["engine/policy", "engine/smtp", "db",
                                                    "templates", "common"]),
    # templates: verifying the recipient token of an unsubscribe URL.
    "http": ("postino_http", ["db", "templates", "common"]),
    "cli": ("postino_cli", None),  # may use every module
}


def closure(folder):
    seen, todo = set(), [folder]
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        deps = MODULES[f][1]
        todo.extend(MODULES if deps is None else deps)
    return seen


def main():
    build, source = sys.argv[1], os.path.realpath(sys.argv[2])
    with open(os.path.join(build, "compile_commands.json")) as f:
        commands = json.load(f)
    library_of = {lib: folder for folder, (lib, _) in MODULES.items()}
    roots_re = re.compile(r"-I\s*(\S*/include/(postino_[a-z_]+))(?=\s|$)")
    checked, errors = 0, []
    for entry in commands:
        path = os.path.realpath(entry["file"])
        if not path.startswith(source + os.sep):
            continue
        rel = os.path.relpath(path, source)
        folder = next((m for m in sorted(MODULES, key=len, reverse=True)
                       if rel.startswith(m + "/")), None)
        if folder is None:
            continue  # tests, bench, fuzz: not modules
        if "-I" + source + " " in entry["command"] + " " or "-I" + source + "/ " in entry["command"]:
            errors.append(f"{rel}: compiled with the whole source tree on its include path")
        allowed = closure(folder)
        for _, lib in roots_re.findall(entry["command"]):
            dep = library_of.get(lib)
            if dep is None:
                continue
            if dep not in allowed:
                errors.append(f"{rel}: sees the headers of {dep} ({lib}), which DESIGN.md does "
                              f"not let {folder} depend on")
        checked += 1
    if checked == 0:
        print("no module source found in compile_commands.json", file=sys.stderr)
        return 1
    for e in errors:
        print(e)
    print(f"{checked} module sources checked, {len(errors)} boundary violations")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
