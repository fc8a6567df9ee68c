using System.Runtime.InteropServices;
using System.Text;

namespace Sandbox.Runtime;

/// <summary>Unmanaged memory for data the post-clone path reads: NUL-terminated strings, arrays, structs.</summary>
internal sealed unsafe class NativeArena : IDisposable
{
    private readonly List<nint> _blocks = [];
    private byte* _next;
    private nint _left;

    public T* Alloc<T>(int count = 1) where T : unmanaged => (T*)AllocBytes(sizeof(T) * Math.Max(count, 1));

    public byte* Str(string? s)
    {
        if (s is null)
        {
            return null;
        }
        var n = Encoding.UTF8.GetByteCount(s);
        var p = AllocBytes(n + 1);
        Encoding.UTF8.GetBytes(s, new Span<byte>(p, n));
        p[n] = 0;
        return p;
    }

    public byte** StrArray(IReadOnlyList<string> items)
    {
        var arr = Alloc<nint>(items.Count + 1);
        for (var i = 0; i < items.Count; i++)
        {
            arr[i] = (nint)Str(items[i]);
        }
        arr[items.Count] = 0;
        return (byte**)arr;
    }

    public byte* AllocBytes(int size)
    {
        size = (size + 15) & ~15;
        if (size > _left)
        {
            var blockSize = Math.Max(size, 16 * 1024);
            var block = (byte*)NativeMemory.AllocZeroed((nuint)blockSize);
            _blocks.Add((nint)block);
            _next = block;
            _left = blockSize;
        }
        var p = _next;
        _next += size;
        _left -= size;
        return p;
    }

    public void Dispose()
    {
        foreach (var b in _blocks)
        {
            NativeMemory.Free((void*)b);
        }
        _blocks.Clear();
        _left = 0;
    }
}
