"""Prints what the sandbox reported for each test of a TRX file and checks each outcome against the expected one.

Usage: python3 summary.py RESULTS.trx [--without TEST...]
One line per test (whether the outcome is the expected one, the outcome, the name, which usage line), the first line
of a failure message under it, then each distinct usage line the sandboxes reported ("Sandbox: peak memory ..."):
each result's own (VSTest mode, ../HermeticTests), or the run's, which Microsoft.Testing.Platform mode
(../HermeticTests.Mtp) writes once for its one test host. --without leaves expected tests out (a run that filtered
them out). Exit status 0 when every expected test is there with its expected outcome, 1 otherwise.
"""
import sys
import xml.etree.ElementTree as ET

# Test name (without theory arguments) -> the outcome the sandbox should give it (README.md says why).
EXPECTED = {
    "HermeticTests.Basics.Adds": "Passed",
    "HermeticTests.Basics.Counts_letters": "Passed",
    "HermeticTests.FileSystem.Writing_outside_tmp_and_the_output_directory_is_refused": "Passed",
    "HermeticTests.FileSystem.Tmp_is_writable": "Passed",
    "HermeticTests.FileSystem.Writes_beside_the_assembly_stay_in_the_sandbox": "Passed",
    "HermeticTests.FileSystem.Files_the_build_put_beside_the_assembly_can_be_overwritten": "Passed",
    "HermeticTests.HostEnvironment.Host_variable_is_absent": "Passed",
    "HermeticTests.HostEnvironment.Home_is_the_private_tmp": "Passed",
    "HermeticTests.Network.Connects_to_a_listener_on_the_hosts_loopback": "Failed",
    "HermeticTests.Memory.Allocating_past_the_memory_limit_is_OOM_killed": "Failed",
}
NS = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}

for name in sys.argv[3:] if sys.argv[2:3] == ["--without"] else []:
    EXPECTED.pop(name)
run = ET.parse(sys.argv[1]).getroot()
results = run.findall(".//t:UnitTestResult", NS)
# Microsoft.Testing.Platform mode: one usage line for the run, a message of the TRX's ResultSummary.
run_usage = next((t.text.strip() for t in run.findall("t:ResultSummary/t:RunInfos/t:RunInfo/t:Text", NS)
                  if (t.text or "").startswith("Sandbox:")), None)
usages = []  # distinct usage lines, in order of first appearance; a test refers to one by number
seen = set()
good = 0
for r in sorted(results, key=lambda r: r.get("testName")):
    name = r.get("testName")
    base = name.split("(")[0]
    outcome = r.get("outcome")
    expected = EXPECTED.get(base)
    seen.add(base)
    ok = outcome == expected
    good += ok
    usage = next((m.text.strip() for m in r.findall("t:Output/t:TextMessages/t:Message", NS)
                  if (m.text or "").startswith("Sandbox:")), run_usage)
    if usage is not None and usage not in usages:
        usages.append(usage)
    where = f"  [usage {usages.index(usage) + 1}]" if usage is not None else "  [no usage line: unsandboxed?]"
    print(f"{'ok ' if ok else 'BAD'} {outcome:<6} {name}{where}" + ("" if ok else f"  (expected {expected or 'no such test'})"))
    message = (r.findtext("t:Output/t:ErrorInfo/t:Message", "", NS) or "").strip()
    if message:
        print(f"      {message.splitlines()[0]}")
for i, usage in enumerate(usages, 1):
    print(f"usage {i}: {usage}")
missing = sorted(set(EXPECTED) - seen)
for name in missing:
    print(f"BAD missing {name}")
wrong = len(results) - good + len(missing)
print(f"{len(results)} results, {good} with the expected outcome" + ("" if wrong == 0 else f"; {wrong} wrong or missing"))
sys.exit(1 if wrong else 0)
