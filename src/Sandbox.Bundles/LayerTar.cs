using System.Text;

namespace Sandbox.Bundles;

/// <summary>
/// A layer as a POSIX tar stream (ustar headers, a pax header for a name or link target too long for them), written
/// so that equal layers give equal bytes: entries in the layer's byte-wise path order, every mtime 0, owner 0:0 with
/// no user or group names, the layer's normalized modes, and the two zero blocks tar ends with.
/// </summary>
internal static class LayerTar
{
    private const int Block = 512;

    public static void Write(Layer layer, ContentStore store, Stream output)
    {
        var buffer = new byte[1 << 16];
        foreach (var e in layer.Entries)
        {
            var name = e.Path.TrimStart('/') + (e.Kind == EntryKind.Directory ? "/" : "");
            switch (e.Kind)
            {
                case EntryKind.Directory:
                    WriteHeader(output, name, e.Mode, 0, (byte)'5', "");
                    break;
                case EntryKind.Symlink:
                    WriteHeader(output, name, e.Mode, 0, (byte)'2', e.LinkTarget!);
                    break;
                default:
                    using (var blob = new FileStream(store.BlobPath(e.Digest!, e.Mode), FileMode.Open, FileAccess.Read, FileShare.Read, 1))
                    {
                        var size = blob.Length;
                        WriteHeader(output, name, e.Mode, size, (byte)'0', "");
                        long copied = 0;
                        int n;
                        while (copied < size && (n = blob.Read(buffer, 0, (int)Math.Min(buffer.Length, size - copied))) > 0)
                        {
                            output.Write(buffer, 0, n);
                            copied += n;
                        }
                        if (copied != size)
                        {
                            throw new SandboxException(ErrorCodes.InputChanged, $"the cached copy of {e.Path} shrank while the layer was written", "build again");
                        }
                        Pad(output, size);
                    }
                    break;
            }
        }
        output.Write(new byte[2 * Block]);
    }

    private static void WriteHeader(Stream output, string name, uint mode, long size, byte type, string linkTarget)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var linkBytes = Encoding.UTF8.GetBytes(linkTarget);
        var (prefix, shortName) = Split(nameBytes);
        if (shortName is null || linkBytes.Length > 100)
        {
            var records = new StringBuilder();
            if (shortName is null)
            {
                records.Append(PaxRecord("path", name));
            }
            if (linkBytes.Length > 100)
            {
                records.Append(PaxRecord("linkpath", linkTarget));
            }
            var pax = Encoding.UTF8.GetBytes(records.ToString());
            output.Write(Header(Encoding.ASCII.GetBytes("PaxHeaders/entry"), [], 0x1a4, pax.Length, (byte)'x', []));
            output.Write(pax);
            Pad(output, pax.Length);
            (prefix, shortName) = ([], nameBytes[..Math.Min(100, nameBytes.Length)]);
            linkBytes = linkBytes[..Math.Min(100, linkBytes.Length)];
        }
        output.Write(Header(shortName!, prefix, mode, size, type, linkBytes));
    }

    /// <summary>ustar's name (100 bytes) and prefix (155) split at a slash; a null name when no split fits.</summary>
    private static (byte[] Prefix, byte[]? Name) Split(byte[] name)
    {
        if (name.Length <= 100)
        {
            return ([], name);
        }
        for (var i = Math.Min(155, name.Length - 1); i > 0; i--)
        {
            if (name[i] == '/' && name.Length - i - 1 is > 0 and <= 100)
            {
                return (name[..i], name[(i + 1)..]);
            }
        }
        return ([], null);
    }

    /// <summary>"LEN key=value\n", where LEN counts its own digits too.</summary>
    private static string PaxRecord(string key, string value)
    {
        var body = Encoding.UTF8.GetByteCount($" {key}={value}\n");
        var length = body + body.ToString(System.Globalization.CultureInfo.InvariantCulture).Length;
        if (length.ToString(System.Globalization.CultureInfo.InvariantCulture).Length != (length - body))
        {
            length++;
        }
        return $"{length} {key}={value}\n";
    }

    private static byte[] Header(byte[] name, byte[] prefix, uint mode, long size, byte type, byte[] linkTarget)
    {
        var h = new byte[Block];
        name.CopyTo(h, 0);
        Octal(h, 100, 8, mode);
        Octal(h, 108, 8, 0); // uid
        Octal(h, 116, 8, 0); // gid
        Octal(h, 124, 12, size);
        Octal(h, 136, 12, 0); // mtime
        h[156] = type;
        linkTarget.CopyTo(h, 157);
        "ustar\0"u8.CopyTo(h.AsSpan(257));
        "00"u8.CopyTo(h.AsSpan(263));
        Octal(h, 329, 8, 0); // devmajor
        Octal(h, 337, 8, 0); // devminor
        prefix.CopyTo(h, 345);
        // The checksum is the sum of the header's bytes with its own field read as spaces.
        "        "u8.CopyTo(h.AsSpan(148));
        var sum = 0;
        foreach (var b in h)
        {
            sum += b;
        }
        Octal(h, 148, 7, sum);
        h[155] = (byte)' ';
        return h;
    }

    /// <summary>A zero-padded octal number filling <paramref name="width"/> - 1 digits, then NUL.</summary>
    private static void Octal(byte[] h, int offset, int width, long value)
    {
        var digits = Convert.ToString(value, 8).PadLeft(width - 1, '0');
        if (digits.Length > width - 1)
        {
            throw new SandboxException(ErrorCodes.InputRefused, $"{value} does not fit a tar header field of {width - 1} octal digits", "copy smaller files into the image");
        }
        Encoding.ASCII.GetBytes(digits).CopyTo(h, offset);
        h[offset + width - 1] = 0;
    }

    private static void Pad(Stream output, long size)
    {
        var rest = (int)(size % Block);
        if (rest != 0)
        {
            output.Write(new byte[Block - rest]);
        }
    }
}
