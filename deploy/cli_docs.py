#!/usr/bin/env python3
"""cli_docs.py: the man page and the bash completion of `postino`, generated
from the binary's own --help texts (the CLI11 tree), so they never drift.

  cli_docs.py man  POSTINO OUT.1      # roff man page: every command's --help
  cli_docs.py bash POSTINO OUT        # bash completion script

Walks the tree: `postino --help`, then `postino CMD --help` for every
subcommand listed under "Subcommands:", recursively.
"""
import re
import subprocess
import sys


def help_of(binary, path):
    out = subprocess.run([binary, *path, "--help"], capture_output=True, text=True,
                         env={"POSTINO_LOG_LEVEL": "off", "ASAN_OPTIONS": "detect_leaks=0"})
    return out.stdout


def sections(text):
    """{'Options': [(name, desc)], 'Subcommands': [...], 'Positionals': [...]}, description, usage"""
    lines = text.splitlines()
    desc, usage, current, result = [], "", None, {}
    for line in lines:
        if line.startswith("Usage:"):
            usage = line[len("Usage:"):].strip()
            continue
        m = re.match(r"^([A-Z][A-Za-z ]*):\s*$", line)
        if m:
            current = m.group(1)
            result[current] = []
            continue
        if current is None:
            if line.strip():
                desc.append(line.strip())
            continue
        if not line.strip():
            continue
        m = re.match(r"^  (\S.*?)(?:\s{2,}(.*))?$", line)
        if m and not line.startswith("    "):
            result[current].append([m.group(1).strip(), (m.group(2) or "").strip()])
        elif result[current]:
            result[current][-1][1] = (result[current][-1][1] + " " + line.strip()).strip()
    return " ".join(desc), usage, result


def walk(binary, path=()):
    desc, usage, secs = sections(help_of(binary, list(path)))
    node = {"path": list(path), "desc": desc, "usage": usage, "sections": secs, "children": []}
    for name, _ in secs.get("Subcommands", []):
        node["children"].append(walk(binary, (*path, name)))
    return node


def roff(text):
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\\&" + text if text.startswith((".", "'")) else text


def man(tree, out):
    w = out.write
    w('.TH POSTINO 1 "" "postino" "User Commands"\n')
    w(".SH NAME\npostino \\- " + roff(tree["desc"].split(": ", 1)[-1]) + "\n")
    w(".SH SYNOPSIS\n.B postino\n[\\fIOPTIONS\\fR] \\fICOMMAND\\fR ...\n")
    w(".SH DESCRIPTION\n" + roff(tree["desc"]) + ".\n.PP\n" +
      "Every command below is shown with its own options, as `postino COMMAND --help` prints them."
      " Exit codes: 0 success, 1 failure, 2 bad command line, 3 invalid configuration,"
      " 4 database unreachable or schema mismatch, 5 input partly rejected, 6 not found,"
      " 7 not allowed in the current state.\n")

    def node(n, level):
        if n["path"]:
            w(".SH " if level == 1 else ".SS ")
            w(roff("postino " + " ".join(n["path"])) + "\n")
            if n["desc"]:
                w(roff(n["desc"]) + "\n")
            w(".PP\n.B Usage:\n" + roff(n["usage"]) + "\n")
        else:
            w(".SH GLOBAL OPTIONS\n")
        for sec in ("Positionals", "Options"):
            for name, d in n["sections"].get(sec, []):
                if name.startswith("-h,--help"):
                    continue
                w(".TP\n.B " + roff(name) + "\n" + roff(d or "-") + "\n")
        for c in n["children"]:
            node(c, level + 1 if n["path"] else 1)

    node(tree, 0)
    w(".SH FILES\n.TP\n.I /etc/postino/postino.toml\nthe configuration (see "
      "/usr/share/doc/postino/postino.toml.example and docs/configuration.md)\n")
    w(".SH ENVIRONMENT\n.TP\n.B POSTINO_CONFIG\nconfiguration file\n.TP\n"
      ".B POSTINO_DATABASE_URL\noverrides database.url\n.TP\n.B POSTINO_LOG_LEVEL, POSTINO_LOG_FORMAT\n"
      "defaults of \\-\\-log\\-level and \\-\\-log\\-format\n")


def bash(tree, out):
    cases = []

    def node(n):
        words = [name for name, _ in n["sections"].get("Subcommands", [])]
        for name, _ in n["sections"].get("Options", []):
            flag = name.split(" ")[0]
            words += [f for f in flag.split(",") if f.startswith("-")]
        cases.append(("/".join(n["path"]), " ".join(words)))
        for c in n["children"]:
            node(c)

    node(tree)
    out.write("# bash completion for postino, generated from `postino --help` by deploy/cli_docs.py\n")
    out.write("_postino() {\n  local cur path i w\n  cur=\"${COMP_WORDS[COMP_CWORD]}\"\n  path=\"\"\n")
    out.write("  for ((i = 1; i < COMP_CWORD; i++)); do\n    w=\"${COMP_WORDS[i]}\"\n")
    out.write("    case \"$w\" in -*) continue ;; esac\n")
    out.write("    if _postino_words \"$path\" | tr ' ' '\\n' | grep -qx -- \"$w\"; then\n")
    out.write("      path=\"${path:+$path/}$w\"\n    fi\n  done\n")
    out.write("  case \"$cur\" in\n    -*|*) COMPREPLY=($(compgen -W \"$(_postino_words \"$path\")\" -- \"$cur\")) ;;\n  esac\n")
    out.write("  case \"${COMP_WORDS[COMP_CWORD-1]}\" in\n    -c|--config|--out|--html|--text) COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n  esac\n}\n")
    out.write("_postino_words() {\n  case \"$1\" in\n")
    for path, words in cases:
        out.write(f"    \"{path}\") echo \"{words}\" ;;\n")
    out.write("  esac\n}\ncomplete -o default -F _postino postino\n")


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("man", "bash"):
        sys.exit(__doc__)
    tree = walk(sys.argv[2])
    if not tree["sections"].get("Subcommands"):
        sys.exit("cli_docs.py: `%s --help` lists no subcommands" % sys.argv[2])
    with open(sys.argv[3], "w") as out:
        (man if sys.argv[1] == "man" else bash)(tree, out)


if __name__ == "__main__":
    main()
