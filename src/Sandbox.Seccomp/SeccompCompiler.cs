using Sandbox.Oci;

namespace Sandbox.Seccomp;

/// <summary>The architectures Sandbox compiles filters for, with their audit numbers and syscall tables.</summary>
public sealed record SeccompArch(string Name, uint AuditArch, IReadOnlyList<(string Name, int Number)> Table, int Highest)
{
    public const uint X32SyscallBit = 0x40000000;

    public static readonly SeccompArch X86_64 = new("SCMP_ARCH_X86_64", 0xc000003e, SyscallTable.X86_64, SyscallTable.X86_64Highest);
    public static readonly SeccompArch Aarch64 = new("SCMP_ARCH_AARCH64", 0xc00000b7, SyscallTable.Aarch64, SyscallTable.Aarch64Highest);

    public static SeccompArch Native => System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.Arm64
        ? Aarch64 : X86_64;

    private Dictionary<string, int>? _numbers;

    /// <summary>Name → number, built once (profiles name hundreds of calls).</summary>
    public IReadOnlyDictionary<string, int> Numbers => _numbers ??= Table.ToDictionary(t => t.Name, t => t.Number, StringComparer.Ordinal);

    public static SeccompArch? ByName(string name) => name switch
    {
        "SCMP_ARCH_X86_64" => X86_64,
        "SCMP_ARCH_AARCH64" => Aarch64,
        _ => null,
    };
}

public sealed record CompiledFilter(BpfInstruction[] Program, uint Flags, bool UsesNotify, IReadOnlyList<string> Warnings)
{
    /// <summary>
    /// Set when the filter records denials: <see cref="Program"/> then hands every call the profile denies with an
    /// errno (other than ENOSYS) to the supervisor, and this is the profile's own filter, which the supervisor runs
    /// on each notified call to learn the errno to answer with.
    /// </summary>
    public BpfInstruction[]? Profile { get; init; }

    /// <summary>Set when connect() and sendto() with an address go to the supervisor, which checks the address family
    /// against the families the profile lets socket() create.</summary>
    public bool InspectsAddresses { get; init; }

    /// <summary>Whether the filter is installed with a listener (SECCOMP_FILTER_FLAG_NEW_LISTENER, then in
    /// <see cref="Flags"/>): for listenerPath (NOTIFY rules) or for recording.</summary>
    public bool NeedsListener => UsesNotify || Profile is not null;
}

/// <summary>
/// An OCI seccomp profile compiled to classic BPF: the architecture first (anything else, and x32 calls on
/// x86_64, are killed), then numbers beyond the newest one known get ENOSYS (so a newer libc falls back), then a
/// binary search over ranges of syscall numbers that share an outcome, then each syscall's argument rules.
/// </summary>
public static class SeccompCompiler
{
    public const int MaxInstructions = 4096;

    private const uint OffsetNr = 0, OffsetArch = 4;

    /// <summary>The number a tracer sets to skip a call (-1).</summary>
    public const uint SkippedCall = 0xffffffff;

    private static uint ArgLow(uint index) => 16 + (index * 8);

    private static uint ArgHigh(uint index) => 20 + (index * 8);

    public static readonly string[] Operators =
        ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"];

    /// <summary>The filter flags a profile may name.</summary>
    public static IEnumerable<string> Flags => FlagValues.Keys;

    private static readonly Dictionary<string, uint> FlagValues = new(StringComparer.Ordinal)
    {
        ["SECCOMP_FILTER_FLAG_TSYNC"] = 1, ["SECCOMP_FILTER_FLAG_LOG"] = 2, ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"] = 4,
        ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"] = 32,
    };

    private const uint NewListener = 8; // SECCOMP_FILTER_FLAG_NEW_LISTENER

    /// <summary>One syscall's rules in profile order; the first whose arguments all match decides.</summary>
    internal sealed record Rule(uint Action, IReadOnlyList<OciSyscallArg> Args);

    /// <summary>
    /// The calls of the listener hand-over: the container sends the listener (sendmsg) and waits for the runtime to
    /// have passed it on (recvmsg). Neither may wait for a supervisor that does not have the listener yet.
    /// </summary>
    public static readonly string[] ListenerChannel = ["sendmsg", "recvmsg"];

    /// <param name="record">Compile a filter that records denials (see <see cref="CompiledFilter.Profile"/>), unless the
    /// profile sends notifications to a listenerPath of its own (a filter chain has one listener).</param>
    public static CompiledFilter Compile(OciSeccomp profile, string jsonPath = "$.linux.seccomp", bool record = false)
    {
        // Nulls in lists and NULs in names first: the checks below may then assume neither is there.
        var problems = NullAndNulScan.Scan(profile, jsonPath, ErrorCodes.SeccompInvalid, ErrorCodes.SeccompInvalid)
            .Select(p => $"{p.Path}: {p.Message}").ToList();
        if (problems.Count > 0)
        {
            throw new SandboxException(ErrorCodes.SeccompInvalid, string.Join("\n  ", problems), "remove each null and \\u0000 listed above");
        }
        var warnings = new List<string>();
        var errnoDefault = profile.DefaultErrnoRet ?? SeccompAction.EPERM;
        var defaultAction = SeccompAction.Parse(profile.DefaultAction, errnoDefault);
        if (defaultAction is null)
        {
            problems.Add($"{jsonPath}.defaultAction: unknown action \"{profile.DefaultAction}\" (one of {string.Join(", ", SeccompAction.Names)})");
        }
        var archs = new List<SeccompArch>();
        if (profile.Architectures is { Count: 0 })
        {
            problems.Add($"{jsonPath}.architectures: an empty list allows no architecture; leave it out for this machine's");
        }
        foreach (var name in profile.Architectures ?? [SeccompArch.Native.Name])
        {
            if (SeccompArch.ByName(name) is { } a)
            {
                archs.Add(a);
            }
            else
            {
                warnings.Add($"{jsonPath}.architectures: {name} is not supported by sandbox and is left out (its calls are killed)");
            }
        }
        uint flags = 0;
        foreach (var f in profile.Flags ?? [])
        {
            if (FlagValues.TryGetValue(f, out var v))
            {
                flags |= v;
            }
            else
            {
                problems.Add($"{jsonPath}.flags: unknown flag \"{f}\"");
            }
        }
        var usesNotify = defaultAction == SeccompAction.UserNotif;
        var rules = new List<(string Name, Rule Rule)>();
        for (var i = 0; i < (profile.Syscalls?.Count ?? 0); i++)
        {
            var s = profile.Syscalls![i];
            var at = $"{jsonPath}.syscalls[{i}]";
            var action = SeccompAction.Parse(s.Action, s.ErrnoRet ?? errnoDefault);
            if (action is null)
            {
                problems.Add($"{at}.action: unknown action \"{s.Action}\" (one of {string.Join(", ", SeccompAction.Names)})");
                continue;
            }
            usesNotify |= action == SeccompAction.UserNotif;
            var ok = true;
            for (var j = 0; j < (s.Args?.Count ?? 0); j++)
            {
                var arg = s.Args![j];
                if (arg.Index > 5)
                {
                    problems.Add($"{at}.args[{j}].index: {arg.Index} is not an argument (0 to 5)");
                    ok = false;
                }
                if (!Operators.Contains(arg.Op))
                {
                    problems.Add($"{at}.args[{j}].op: unknown operator \"{arg.Op}\" (one of {string.Join(", ", Operators)})");
                    ok = false;
                }
            }
            if (s.Names is not { Count: > 0 })
            {
                problems.Add($"{at}.names: no system call named");
                ok = false;
            }
            if (ok)
            {
                foreach (var n in s.Names!)
                {
                    rules.Add((n, new Rule(action.Value, s.Args ?? [])));
                }
            }
        }
        if (usesNotify && string.IsNullOrEmpty(profile.ListenerPath))
        {
            problems.Add($"{jsonPath}.listenerPath: SCMP_ACT_NOTIFY needs a listener socket path");
        }
        foreach (var call in ListenerChannel.Where(c => usesNotify && FirstVerdicts(rules, defaultAction ?? 0, c).Contains(SeccompAction.UserNotif)))
        {
            problems.Add($"{jsonPath}: {call} may not be SCMP_ACT_NOTIFY: the container hands the listener to the runtime with sendmsg and recvmsg, so nobody could answer");
        }
        if (problems.Count > 0)
        {
            throw new SandboxException(ErrorCodes.SeccompInvalid, string.Join("\n  ", problems), "fix the seccomp profile; the runtime-spec's config-linux page lists its fields");
        }
        foreach (var name in rules.Select(r => r.Name).Distinct(StringComparer.Ordinal))
        {
            if (archs.All(a => !a.Numbers.ContainsKey(name)))
            {
                warnings.Add($"{jsonPath}: system call \"{name}\" is unknown to sandbox's tables and is skipped");
            }
        }
        var program = Checked(Emit(archs, defaultAction!.Value, rules), jsonPath);
        if (!record || usesNotify)
        {
            return new CompiledFilter(program, usesNotify ? flags | NewListener : flags, usesNotify, warnings);
        }
        var (recording, inspects) = Recording(defaultAction.Value, rules);
        return new CompiledFilter(Checked(Emit(archs, Notified(defaultAction.Value), recording), jsonPath), flags | NewListener, false, warnings)
        {
            Profile = program,
            InspectsAddresses = inspects,
        };
    }

    private static BpfInstruction[] Checked(BpfInstruction[] program, string jsonPath) => program.Length <= MaxInstructions ? program
        : throw new SandboxException(ErrorCodes.SeccompInvalid,
            $"{jsonPath}: the compiled filter has {program.Length} instructions, more than the kernel's {MaxInstructions}",
            "merge rules (one rule may name many system calls), or use fewer argument conditions");

    /// <summary>A denial the supervisor should see: an errno other than ENOSYS, which means "not here, fall back".</summary>
    public static bool IsRecordedDenial(uint value) =>
        (value & 0xffff0000) == SeccompAction.Errno && (value & 0xffff) != SeccompAction.ENOSYS;

    private static uint Notified(uint value) => IsRecordedDenial(value) ? SeccompAction.UserNotif : value;

    /// <summary>
    /// The rules of a recording filter: denials become notifications, except for the listener's hand-over calls,
    /// which keep the profile's verdicts (their rules, then the default). When the profile limits the families socket() may
    /// create and allows connect() and sendto() outright, those two go to the supervisor first (sendto only with an
    /// address), so that an address of a family the profile refuses is refused too, and reported.
    /// </summary>
    private static (List<(string Name, Rule Rule)> Rules, bool Inspects) Recording(uint defaultAction, List<(string Name, Rule Rule)> rules)
    {
        var result = new List<(string Name, Rule Rule)>();
        var inspects = rules.Any(r => r.Name == "socket" && r.Rule.Args.Count > 0)
            && new[] { "connect", "sendto" }.All(c => FirstVerdicts(rules, defaultAction, c).SetEquals([SeccompAction.Allow]));
        if (inspects)
        {
            result.Add(("connect", new Rule(SeccompAction.UserNotif, [])));
            result.Add(("sendto", new Rule(SeccompAction.UserNotif, [new OciSyscallArg { Index = 4, Op = "SCMP_CMP_NE", Value = 0 }])));
        }
        foreach (var (name, rule) in rules)
        {
            result.Add((name, ListenerChannel.Contains(name) ? rule : rule with { Action = Notified(rule.Action) }));
        }
        result.AddRange(ListenerChannel.Select(c => (c, new Rule(defaultAction, []))));
        return (result, inspects);
    }

    /// <summary>Every verdict a call can get: its rules' actions up to the first unconditional one, else also the default.</summary>
    private static HashSet<uint> FirstVerdicts(List<(string Name, Rule Rule)> rules, uint defaultAction, string name)
    {
        var verdicts = new HashSet<uint>();
        foreach (var (n, rule) in rules)
        {
            if (n != name)
            {
                continue;
            }
            verdicts.Add(rule.Action);
            if (rule.Args.Count == 0)
            {
                return verdicts;
            }
        }
        verdicts.Add(defaultAction);
        return verdicts;
    }

    private static BpfInstruction[] Emit(List<SeccompArch> archs, uint defaultAction, List<(string Name, Rule Rule)> rules)
    {
        var asm = new BpfAssembler();
        var kill = asm.NewLabel();
        var returns = new Dictionary<uint, int>();
        int ReturnLabel(uint value)
        {
            if (!returns.TryGetValue(value, out var l))
            {
                returns[value] = l = asm.NewLabel();
            }
            return l;
        }
        var archLabels = archs.Select(_ => asm.NewLabel()).ToList();
        asm.Load(OffsetArch);
        for (var i = 0; i < archs.Count; i++)
        {
            var next = asm.NewLabel();
            asm.JumpIf(BpfInstruction.Jeq, archs[i].AuditArch, archLabels[i], next);
            asm.Mark(next);
        }
        asm.Jump(kill);
        var complexBlocks = new List<(int Label, List<Rule> Rules)>();
        for (var i = 0; i < archs.Count; i++)
        {
            var arch = archs[i];
            asm.Mark(archLabels[i]);
            asm.Load(OffsetNr);
            // -1 is how a tracer skips a call: the kernel runs nothing for it, so it passes (as libseccomp lets it).
            var notSkipped = asm.NewLabel();
            asm.JumpIf(BpfInstruction.Jeq, SkippedCall, ReturnLabel(SeccompAction.Allow), notSkipped);
            asm.Mark(notSkipped);
            if (arch == SeccompArch.X86_64)
            {
                var notX32 = asm.NewLabel();
                asm.JumpIf(BpfInstruction.Jset, SeccompArch.X32SyscallBit, kill, notX32);
                asm.Mark(notX32);
            }
            var known = asm.NewLabel();
            asm.JumpIf(BpfInstruction.Jgt, (uint)arch.Highest, ReturnLabel(SeccompAction.Errno | SeccompAction.ENOSYS), known);
            asm.Mark(known);
            // Each number's outcome: a plain return value, or a block of argument rules.
            var byNumber = new Dictionary<int, List<Rule>>();
            foreach (var (name, rule) in rules)
            {
                if (arch.Numbers.TryGetValue(name, out var number))
                {
                    (byNumber.TryGetValue(number, out var list) ? list : byNumber[number] = []).Add(rule);
                }
            }
            var ranges = new List<(int Low, int High, int Label)>();
            for (var nr = 0; nr <= arch.Highest; nr++)
            {
                int label;
                if (!byNumber.TryGetValue(nr, out var list))
                {
                    label = ReturnLabel(defaultAction);
                }
                else if (list[0].Args.Count == 0)
                {
                    label = ReturnLabel(list[0].Action); // the first rule matches unconditionally
                }
                else
                {
                    label = asm.NewLabel();
                    complexBlocks.Add((label, list));
                }
                if (ranges.Count > 0 && ranges[^1].Label == label && ranges[^1].High == nr - 1)
                {
                    ranges[^1] = (ranges[^1].Low, nr, label);
                }
                else
                {
                    ranges.Add((nr, nr, label));
                }
            }
            SearchTree(asm, ranges, 0, ranges.Count);
        }
        foreach (var (label, list) in complexBlocks)
        {
            asm.Mark(label);
            foreach (var rule in list)
            {
                var nextRule = asm.NewLabel();
                foreach (var arg in rule.Args)
                {
                    var pass = asm.NewLabel();
                    Condition(asm, arg, pass, nextRule);
                    asm.Mark(pass);
                }
                asm.Jump(ReturnLabel(rule.Action));
                asm.Mark(nextRule);
            }
            asm.Jump(ReturnLabel(defaultAction));
        }
        asm.Mark(kill);
        asm.Return(SeccompAction.KillProcess);
        foreach (var (value, label) in returns.OrderBy(r => r.Value))
        {
            asm.Mark(label);
            asm.Return(value);
        }
        return asm.Build();
    }

    /// <summary>A binary search over contiguous ranges covering 0..highest: "nr &gt;= low of the middle range?"</summary>
    private static void SearchTree(BpfAssembler asm, List<(int Low, int High, int Label)> ranges, int from, int to)
    {
        if (to - from == 1)
        {
            asm.Jump(ranges[from].Label);
            return;
        }
        var mid = (from + to) / 2;
        var left = asm.NewLabel();
        var right = asm.NewLabel();
        asm.JumpIf(BpfInstruction.Jge, (uint)ranges[mid].Low, right, left);
        asm.Mark(left);
        SearchTree(asm, ranges, from, mid);
        asm.Mark(right);
        SearchTree(asm, ranges, mid, to);
    }

    /// <summary>A 64-bit comparison of one argument, made on its high then its low 32-bit half.</summary>
    private static void Condition(BpfAssembler asm, OciSyscallArg arg, int pass, int fail)
    {
        var hi = (uint)(arg.Value >> 32);
        var lo = (uint)arg.Value;
        var checkLow = asm.NewLabel();
        switch (arg.Op)
        {
            case "SCMP_CMP_EQ":
            case "SCMP_CMP_NE":
                {
                    var (equal, differ) = arg.Op == "SCMP_CMP_EQ" ? (pass, fail) : (fail, pass);
                    asm.Load(ArgHigh(arg.Index));
                    asm.JumpIf(BpfInstruction.Jeq, hi, checkLow, differ);
                    asm.Mark(checkLow);
                    asm.Load(ArgLow(arg.Index));
                    asm.JumpIf(BpfInstruction.Jeq, lo, equal, differ);
                    break;
                }
            case "SCMP_CMP_GT":
            case "SCMP_CMP_GE":
            case "SCMP_CMP_LT":
            case "SCMP_CMP_LE":
                {
                    // a > v  ⇔ hi(a) > hi(v), or hi equal and lo(a) > lo(v) (>= for GE). LT and LE are their negations.
                    var strict = arg.Op is "SCMP_CMP_GT" or "SCMP_CMP_LE";
                    var (above, notAbove) = arg.Op is "SCMP_CMP_GT" or "SCMP_CMP_GE" ? (pass, fail) : (fail, pass);
                    var sameHigh = asm.NewLabel();
                    asm.Load(ArgHigh(arg.Index));
                    asm.JumpIf(BpfInstruction.Jgt, hi, above, sameHigh);
                    asm.Mark(sameHigh);
                    asm.JumpIf(BpfInstruction.Jeq, hi, checkLow, notAbove);
                    asm.Mark(checkLow);
                    asm.Load(ArgLow(arg.Index));
                    asm.JumpIf(strict ? BpfInstruction.Jgt : BpfInstruction.Jge, lo, above, notAbove);
                    break;
                }
            case "SCMP_CMP_MASKED_EQ":
                {
                    var mhi = (uint)(arg.Value >> 32);
                    var mlo = (uint)arg.Value;
                    asm.Load(ArgHigh(arg.Index));
                    asm.And(mhi);
                    asm.JumpIf(BpfInstruction.Jeq, (uint)(arg.ValueTwo >> 32), checkLow, fail);
                    asm.Mark(checkLow);
                    asm.Load(ArgLow(arg.Index));
                    asm.And(mlo);
                    asm.JumpIf(BpfInstruction.Jeq, (uint)arg.ValueTwo, pass, fail);
                    break;
                }
        }
    }
}
