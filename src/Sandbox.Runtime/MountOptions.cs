using static Sandbox.Runtime.Interop.Libc;

namespace Sandbox.Runtime;

/// <summary>mount(8)-style options split into what mount(2) takes: flags, propagation, and the data string.</summary>
/// <param name="Idmap">"idmap" or "ridmap" was given (the mount's uidMappings/gidMappings say how).</param>
/// <param name="IdmapRecursive">"ridmap": the mounts below a recursive bind are id-mapped too.</param>
/// <param name="CopyUp">"tmpcopyup" (podman's, for a tmpfs): the tmpfs starts as a copy of what the rootfs has there.</param>
internal sealed record MountOptions(ulong Flags, ulong Propagation, string? Data, bool Bind, bool Recursive, bool Idmap = false, bool IdmapRecursive = false,
    bool CopyUp = false)
{
    private static readonly Dictionary<string, (bool Clear, ulong Flag)> FlagOptions = new(StringComparer.Ordinal)
    {
        ["defaults"] = (false, 0), ["ro"] = (false, MS_RDONLY), ["rw"] = (true, MS_RDONLY),
        ["suid"] = (true, MS_NOSUID), ["nosuid"] = (false, MS_NOSUID), ["dev"] = (true, MS_NODEV),
        ["nodev"] = (false, MS_NODEV), ["exec"] = (true, MS_NOEXEC), ["noexec"] = (false, MS_NOEXEC),
        ["sync"] = (false, MS_SYNCHRONOUS), ["async"] = (true, MS_SYNCHRONOUS), ["dirsync"] = (false, MS_DIRSYNC),
        ["mand"] = (false, MS_MANDLOCK), ["nomand"] = (true, MS_MANDLOCK), ["atime"] = (true, MS_NOATIME),
        ["noatime"] = (false, MS_NOATIME), ["diratime"] = (true, MS_NODIRATIME), ["nodiratime"] = (false, MS_NODIRATIME),
        ["relatime"] = (false, MS_RELATIME), ["norelatime"] = (true, MS_RELATIME),
        ["strictatime"] = (false, MS_STRICTATIME), ["nostrictatime"] = (true, MS_STRICTATIME),
        ["nosymfollow"] = (false, MS_NOSYMFOLLOW), ["symfollow"] = (true, MS_NOSYMFOLLOW),
    };

    private static readonly string[] PropagationNames = ["private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable"];

    /// <summary>The generic options sandbox honours (`sandbox features` lists them); filesystem options pass through.</summary>
    public static IEnumerable<string> Recognized =>
        FlagOptions.Keys.Concat(PropagationNames).Concat(["bind", "rbind", "idmap", "ridmap", "tmpcopyup"]).Order(StringComparer.Ordinal);

    public static ulong PropagationFlags(string name) => name switch
    {
        "private" => MS_PRIVATE,
        "rprivate" => MS_PRIVATE | MS_REC,
        "shared" => MS_SHARED,
        "rshared" => MS_SHARED | MS_REC,
        "slave" => MS_SLAVE,
        "rslave" => MS_SLAVE | MS_REC,
        "unbindable" => MS_UNBINDABLE,
        "runbindable" => MS_UNBINDABLE | MS_REC,
        _ => 0,
    };

    /// <summary>Parses the options of mounts[index]; unsupported options are refused, not dropped.</summary>
    public static MountOptions Parse(IReadOnlyList<string>? options, string type, int index)
    {
        ulong flags = 0, propagation = 0;
        var bind = type == "bind";
        var recursive = false;
        bool idmap = false, idmapRecursive = false, copyUp = false;
        var data = new List<string>();
        foreach (var o in options ?? [])
        {
            if (o is "bind" or "rbind")
            {
                bind = true;
                recursive |= o == "rbind";
            }
            else if (FlagOptions.TryGetValue(o, out var f))
            {
                flags = f.Clear ? flags & ~f.Flag : flags | f.Flag;
            }
            else if (o is "idmap" or "ridmap")
            {
                idmap = true;
                idmapRecursive |= o == "ridmap";
            }
            else if (o == "tmpcopyup")
            {
                copyUp = true;
            }
            else if (PropagationFlags(o) is var p && p != 0)
            {
                propagation = p;
            }
            else if (o is "remount" or "rro" or "rrw" or "rnosuid" or "rsuid" or "rnodev" or "rdev"
                     or "rnoexec" or "rexec" or "copy-symlink")
            {
                throw new SandboxException(ErrorCodes.Unsupported, $"$.mounts[{index}].options: \"{o}\" is not supported",
                    "remove the option; sandbox refuses options it cannot honour");
            }
            else
            {
                data.Add(o);
            }
        }
        if (copyUp && (bind || type != "tmpfs"))
        {
            throw new SandboxException(ErrorCodes.Unsupported, $"$.mounts[{index}].options: \"tmpcopyup\" on a mount of type \"{(bind ? "bind" : type)}\"",
                "tmpcopyup fills a tmpfs mount: use it with type \"tmpfs\" only");
        }
        // A bind mount has no filesystem options: mount(2) ignores the data with MS_BIND, and other runtimes accept
        // what tools write there (`mode=755`, `size=1k`); so does sandbox, and passes none.
        return new MountOptions(flags, propagation, data.Count > 0 && !bind ? string.Join(',', data) : null, bind, recursive, idmap, idmapRecursive, copyUp);
    }
}
