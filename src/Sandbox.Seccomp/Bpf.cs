using System.Runtime.InteropServices;

namespace Sandbox.Seccomp;

/// <summary>One classic BPF instruction, laid out as struct sock_filter.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct BpfInstruction(ushort Code, byte JumpTrue, byte JumpFalse, uint K)
{
    public const ushort LdAbsW = 0x20, Ja = 0x05, Jeq = 0x15, Jgt = 0x25, Jge = 0x35, Jset = 0x45, Ret = 0x06, AndK = 0x54;

    public override string ToString() => $"{{0x{Code:x2}, {JumpTrue}, {JumpFalse}, 0x{K:x8}}}";
}

/// <summary>
/// Builds a BPF program with symbolic jump targets. Every conditional jump is emitted as
/// "jcond k, jt=0, jf=1; ja TRUE; ja FALSE" so that no 8-bit offset can overflow however long the program
/// grows; `ja` offsets are 32-bit. Labels resolve in one pass at the end.
/// </summary>
internal sealed class BpfAssembler
{
    private readonly List<(BpfInstruction Insn, int Target)> _code = [];
    private readonly List<int> _labels = [];

    public int Count => _code.Count;

    public int NewLabel()
    {
        _labels.Add(-1);
        return _labels.Count - 1;
    }

    public void Mark(int label) => _labels[label] = _code.Count;

    public void Load(uint offset) => _code.Add((new BpfInstruction(BpfInstruction.LdAbsW, 0, 0, offset), -1));

    public void And(uint mask) => _code.Add((new BpfInstruction(BpfInstruction.AndK, 0, 0, mask), -1));

    public void Return(uint value) => _code.Add((new BpfInstruction(BpfInstruction.Ret, 0, 0, value), -1));

    public void Jump(int label) => _code.Add((new BpfInstruction(BpfInstruction.Ja, 0, 0, 0), label));

    /// <summary>if (A op k) goto whenTrue; else goto whenFalse.</summary>
    public void JumpIf(ushort op, uint k, int whenTrue, int whenFalse)
    {
        _code.Add((new BpfInstruction(op, 0, 1, k), -1));
        Jump(whenTrue);
        Jump(whenFalse);
    }

    public BpfInstruction[] Build()
    {
        var result = new BpfInstruction[_code.Count];
        for (var i = 0; i < _code.Count; i++)
        {
            var (insn, target) = _code[i];
            if (target >= 0)
            {
                var at = _labels[target];
                if (at < 0)
                {
                    throw new InvalidOperationException($"label {target} was never marked");
                }
                // ja counts from the next instruction; labels always lie ahead of their jumps here.
                insn = insn with { K = checked((uint)(at - i - 1)) };
            }
            result[i] = insn;
        }
        return result;
    }
}
