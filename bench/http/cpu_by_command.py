#!/usr/bin/env python3
"""cpu_by_command.py: CPU seconds (user + system) used so far by every live
process, summed by command name, as one JSON object on stdout. Two snapshots
around a window give where the machine's CPU went in that window
(bench/http/run.sh). Processes that exit inside the window are not counted."""
import json
import os

ticks = os.sysconf("SC_CLK_TCK")
total = {}
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        continue
    # comm is in parentheses and may hold spaces: split after the last ')'.
    comm = stat[stat.index("(") + 1:stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2:].split()
    utime, stime = int(fields[11]), int(fields[12])
    total[comm] = total.get(comm, 0) + (utime + stime) / ticks
print(json.dumps(total))
