"""The pieces test.sh and test-mtp.sh share: the generated test suite and the alternating measurement.

python3 suite.py generate TESTS.cs
    200 passing xunit tests (20 classes of 10) in namespace Bench; the same source for xunit v2 and v3.
python3 suite.py pairs OUT.json N NAME_A COMMAND_A NAME_B COMMAND_B [NAME_C COMMAND_C ...]
    runs the commands in rounds, N rounds of one run each, the order rotated by one every round (A B C, B C A, C A B,
    ...; with two, A first in even rounds, B first in odd ones), each to the end with its output discarded and a
    non-zero exit an error, and writes their wall times as hyperfine's --export-json does (results: command, times,
    mean, stddev, min). The machine's load drifts over seconds: runs of one measured after all runs of the other would
    charge the drift to one of them. A command is split at spaces and run without a shell (`env X=1 cmd` sets a
    variable).
table(PATHS) (imported, PYTHONPATH=eng/bench)
    prints the commands of those hyperfine-style JSON files, a line each (median, mean, stddev, min), and returns
    them by name with their medians and fastest runs.
"""
import json
import statistics
import subprocess
import sys
import time


def generate(path):
    with open(path, "w") as f:
        f.write("using Xunit;\nnamespace Bench;\n")
        for c in range(1, 21):
            f.write(f"public class C{c:02}\n{{\n")
            for t in range(1, 11):
                f.write(f"    [Fact] public void T{t:02}() => Assert.Equal({c * t}, {c} * {t});\n")
            f.write("}\n")


def pairs(out, n, *named_commands):
    if len(named_commands) < 4 or len(named_commands) % 2:
        sys.exit("suite.py pairs: give NAME COMMAND for two commands or more")
    commands = dict(zip(named_commands[0::2], named_commands[1::2]))
    names = list(commands)
    times = {name: [] for name in names}
    for i in range(n):
        for name in names[i % len(names):] + names[:i % len(names)]:
            start = time.perf_counter()
            subprocess.run(commands[name].split(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times[name].append(time.perf_counter() - start)
    results = [{"command": k, "times": v, "mean": statistics.mean(v), "stddev": statistics.stdev(v) if len(v) > 1 else 0.0,
                "min": min(v)} for k, v in times.items()]
    with open(out, "w") as f:
        json.dump({"results": results}, f)


def table(paths):
    res = {}
    for path in paths:
        with open(path) as f:
            res.update({r["command"]: r for r in json.load(f)["results"]})
    med = {k: statistics.median(v["times"]) for k, v in res.items()}
    width = max(len(k) for k in res) + 1
    print(f"{'command':<{width}} {'median s':>9} {'mean s':>8} {'stddev':>7} {'min s':>7}")
    for k, v in res.items():
        print(f"{k:<{width}} {med[k]:>9.3f} {v['mean']:>8.3f} {v['stddev'] or 0:>7.3f} {v['min']:>7.3f}")
    return res, med, {k: v["min"] for k, v in res.items()}


if __name__ == "__main__":
    if sys.argv[1] == "generate":
        generate(sys.argv[2])
    elif sys.argv[1] == "pairs":
        pairs(sys.argv[2], int(sys.argv[3]), *sys.argv[4:])
    else:
        sys.exit(f"suite.py: unknown command {sys.argv[1]}")
