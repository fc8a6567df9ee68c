namespace Sandbox.Seccomp;

/// <summary>struct seccomp_data, as the kernel hands it to a filter (and to a listener with each notification).</summary>
public sealed record SeccompData(int Nr, uint Arch, ulong[] Args);

/// <summary>
/// A classic BPF interpreter for the instructions the compiler emits, with the kernel's checks: forward jumps
/// only, in bounds, every path ends in a return. Runs a filter on one input: the tests check the compiler with it, and
/// the supervisor asks the profile's own filter what a notified call would have got.
/// </summary>
public static class BpfInterpreter
{
    public static uint Run(BpfInstruction[] program, SeccompData d)
    {
        uint a = 0;
        for (var pc = 0; pc < program.Length;)
        {
            var i = program[pc];
            switch (i.Code)
            {
                case BpfInstruction.LdAbsW:
                    a = Load(d, i.K);
                    pc++;
                    break;
                case BpfInstruction.AndK:
                    a &= i.K;
                    pc++;
                    break;
                case BpfInstruction.Ret:
                    return i.K;
                case BpfInstruction.Ja:
                    pc += 1 + (int)i.K;
                    break;
                case BpfInstruction.Jeq:
                case BpfInstruction.Jgt:
                case BpfInstruction.Jge:
                case BpfInstruction.Jset:
                    var taken = i.Code switch
                    {
                        BpfInstruction.Jeq => a == i.K,
                        BpfInstruction.Jgt => a > i.K,
                        BpfInstruction.Jge => a >= i.K,
                        _ => (a & i.K) != 0,
                    };
                    pc += 1 + (taken ? i.JumpTrue : i.JumpFalse);
                    break;
                default:
                    throw new InvalidOperationException($"instruction {pc}: opcode 0x{i.Code:x} is not one the compiler emits");
            }
            if (pc >= program.Length)
            {
                throw new InvalidOperationException("jumped past the end of the program");
            }
        }
        throw new InvalidOperationException("fell off the end of the program");
    }

    private static uint Load(SeccompData d, uint offset) => offset switch
    {
        0 => (uint)d.Nr,
        4 => d.Arch,
        >= 16 and < 64 when offset % 4 == 0 => offset % 8 == 0 ? (uint)d.Args[(offset - 16) / 8] : (uint)(d.Args[(offset - 16) / 8] >> 32),
        _ => throw new InvalidOperationException($"load from offset {offset}"),
    };
}
