using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Sandbox.Oci;

/// <summary>
/// Reads config.json with <see cref="Utf8JsonReader"/> straight into the model. The source-generated serializer builds
/// its metadata on first use, which cost `sandbox run` 1.2–1.5 ms; this reader has none. Under valgrind, `sandbox run` of
/// eng/bench/startup.sh's bundle ran 16.4 M instructions with the serializer and 7.9 M with this reader (its own process,
/// up to the rootfs bind valgrind cannot do; the NativeAOT runtime's start and exit are 1.0 M); peak RSS went from 7.5 MiB
/// to 6.6. It takes and refuses what that serializer does, with the same JsonException (message, JSON path, line and
/// byte position): unknown properties are skipped, the last of a repeated key wins, a null is let into a list of
/// strings or objects and refused for a number or a bool, and numbers must fit their type exactly. OciConfigReaderTests
/// hold it to the serializer on every config the tests use and on mutations of them, so a field added to the model and
/// not here fails them.
/// </summary>
internal ref struct OciConfigReader
{
    private Utf8JsonReader _json;
    private readonly ReadOnlySpan<byte> _text;

    // The JSON path, one frame a container as the serializer keeps it: an object's property being read, an array's
    // count of elements read so far, a map's last key.
    private Frame[] _frames = new Frame[8];
    private int _depth;

    /// <summary>Whether a string held a NUL or a list or map a null: only then has NullAndNulScan something to find.</summary>
    private bool _nullOrNul;

    private OciConfigReader(ReadOnlySpan<byte> json)
    {
        _text = json;
        _json = new Utf8JsonReader(json, new JsonReaderOptions());
    }

    private record struct Frame(string? Name, int Count);

    private delegate T ElementReader<T>(ref OciConfigReader r);

    private delegate void PropertyReader<T>(ref OciConfigReader r, T target, string name);

    /// <summary>
    /// The config, or null for a JSON null. <paramref name="nullOrNul"/> says whether the document put a null in a list or
    /// map or a NUL in a string; when it did not, <see cref="NullAndNulScan"/> would find nothing.
    /// </summary>
    /// <exception cref="JsonException">As the source-generated serializer throws it.</exception>
    public static OciConfig? Read(ReadOnlySpan<byte> json, out bool nullOrNul) => Document<OciConfig>(json, ConfigProperty, out nullOrNul);

    /// <summary>A `process` object on its own (`sandbox exec --process FILE`), read as <see cref="Read"/> reads config.json.</summary>
    public static OciProcess? ReadProcess(ReadOnlySpan<byte> json, out bool nullOrNul) => Document<OciProcess>(json, ProcessProperty, out nullOrNul);

    /// <summary>A `linux.resources` object on its own (`sandbox update --resources FILE`).</summary>
    public static OciResources? ReadResources(ReadOnlySpan<byte> json, out bool nullOrNul) => Document<OciResources>(json, ResourcesProperty, out nullOrNul);

    /// <summary>A seccomp profile file (`run --seccomp PATH`): what config.json's linux.seccomp holds.</summary>
    public static OciSeccomp? ReadSeccomp(ReadOnlySpan<byte> json, out bool nullOrNul) => Document<OciSeccomp>(json, SeccompProperty, out nullOrNul);

    /// <summary>
    /// The message the serializer's JsonException carries for this one: its first sentence followed by where it stopped
    /// (the reader keeps those apart, in <see cref="JsonException.Path"/> and the line and position).
    /// </summary>
    public static string SerializerMessage(JsonException e) =>
        $"{e.Message} Path: {e.Path} | LineNumber: {e.LineNumber} | BytePositionInLine: {e.BytePositionInLine}.";

    private static T? Document<T>(ReadOnlySpan<byte> json, PropertyReader<T> property, out bool nullOrNul)
        where T : class, new()
    {
        var r = new OciConfigReader(json);
        try
        {
            r._json.Read();
            var config = r.Object(property);
            // Trailing white space is allowed; anything else after the document is refused here.
            r._json.Read();
            nullOrNul = r._nullOrNul;
            return config;
        }
        catch (JsonException e) when (e.Path is null)
        {
            // From Utf8JsonReader or JsonDocument: the text is not JSON. The serializer adds the path where it stopped.
            var message = e.Message;
            var cut = message.LastIndexOf(" LineNumber: ", StringComparison.Ordinal);
            throw new JsonException(cut >= 0 ? message[..cut] : message, r.Path(), e.LineNumber, e.BytePositionInLine, e);
        }
    }

    private static void ConfigProperty(ref OciConfigReader r, OciConfig c, string name)
    {
        switch (name)
        {
            case "ociVersion": c.OciVersion = r.String(); break;
            case "root": c.Root = r.Object<OciRoot>(RootProperty); break;
            case "mounts": c.Mounts = r.List(static (ref OciConfigReader r) => r.ObjectElement<OciMount>(MountProperty)); break;
            case "process": c.Process = r.Object<OciProcess>(ProcessProperty); break;
            case "hostname": c.Hostname = r.String(); break;
            case "domainname": c.Domainname = r.String(); break;
            case "hooks": c.Hooks = r.Object<OciHooks>(HooksProperty); break;
            case "annotations": c.Annotations = r.Map(StringElement); break;
            case "linux": c.Linux = r.Object<OciLinux>(LinuxProperty); break;
            default: r.Unknown(); break;
        }
    }

    private static void RootProperty(ref OciConfigReader r, OciRoot root, string name)
    {
        switch (name)
        {
            case "path": root.Path = r.String(); break;
            case "readonly": root.Readonly = r.Bool(); break;
            default: r.Unknown(); break;
        }
    }

    private static void MountProperty(ref OciConfigReader r, OciMount m, string name)
    {
        switch (name)
        {
            case "destination": m.Destination = r.String(); break;
            case "type": m.Type = r.String(); break;
            case "source": m.Source = r.String(); break;
            case "options": m.Options = r.List(StringElement); break;
            case "uidMappings": m.UidMappings = r.List(IdMappingElement); break;
            case "gidMappings": m.GidMappings = r.List(IdMappingElement); break;
            default: r.Unknown(); break;
        }
    }

    private static void ProcessProperty(ref OciConfigReader r, OciProcess p, string name)
    {
        switch (name)
        {
            case "terminal": p.Terminal = r.Bool(); break;
            case "consoleSize": p.ConsoleSize = r.Object<OciBox>(BoxProperty); break;
            case "cwd": p.Cwd = r.String(); break;
            case "env": p.Env = r.List(StringElement); break;
            case "args": p.Args = r.List(StringElement); break;
            case "commandLine": p.CommandLine = r.String(); break;
            case "rlimits": p.Rlimits = r.List(static (ref OciConfigReader r) => r.ObjectElement<OciRlimit>(RlimitProperty)); break;
            case "capabilities": p.Capabilities = r.Object<OciCapabilities>(CapabilitiesProperty); break;
            case "noNewPrivileges": p.NoNewPrivileges = r.Bool(); break;
            case "oomScoreAdj": p.OomScoreAdj = r.Int32OrNull(); break;
            case "user": p.User = r.Object<OciUser>(UserProperty); break;
            case "apparmorProfile": p.ApparmorProfile = r.String(); break;
            case "selinuxLabel": p.SelinuxLabel = r.String(); break;
            default: r.Unknown(); break;
        }
    }

    private static void BoxProperty(ref OciConfigReader r, OciBox b, string name)
    {
        switch (name)
        {
            case "height": b.Height = r.UInt32(); break;
            case "width": b.Width = r.UInt32(); break;
            default: r.Unknown(); break;
        }
    }

    private static void UserProperty(ref OciConfigReader r, OciUser u, string name)
    {
        switch (name)
        {
            case "uid": u.Uid = r.UInt32(); break;
            case "gid": u.Gid = r.UInt32(); break;
            case "umask": u.Umask = r.UInt32OrNull(); break;
            case "additionalGids": u.AdditionalGids = r.List(static (ref OciConfigReader r) => r.UInt32()); break;
            case "username": u.Username = r.String(); break;
            default: r.Unknown(); break;
        }
    }

    private static void RlimitProperty(ref OciConfigReader r, OciRlimit l, string name)
    {
        switch (name)
        {
            case "type": l.Type = r.String(); break;
            case "soft": l.Soft = r.UInt64(); break;
            case "hard": l.Hard = r.UInt64(); break;
            default: r.Unknown(); break;
        }
    }

    private static void CapabilitiesProperty(ref OciConfigReader r, OciCapabilities c, string name)
    {
        switch (name)
        {
            case "bounding": c.Bounding = r.List(StringElement); break;
            case "effective": c.Effective = r.List(StringElement); break;
            case "permitted": c.Permitted = r.List(StringElement); break;
            case "inheritable": c.Inheritable = r.List(StringElement); break;
            case "ambient": c.Ambient = r.List(StringElement); break;
            default: r.Unknown(); break;
        }
    }

    private static void HooksProperty(ref OciConfigReader r, OciHooks h, string name)
    {
        switch (name)
        {
            case "prestart": h.Prestart = r.List(HookElement); break;
            case "createRuntime": h.CreateRuntime = r.List(HookElement); break;
            case "createContainer": h.CreateContainer = r.List(HookElement); break;
            case "startContainer": h.StartContainer = r.List(HookElement); break;
            case "poststart": h.Poststart = r.List(HookElement); break;
            case "poststop": h.Poststop = r.List(HookElement); break;
            default: r.Unknown(); break;
        }
    }

    private static OciHook HookElement(ref OciConfigReader r) => r.ObjectElement<OciHook>(static (ref OciConfigReader r, OciHook h, string name) =>
    {
        switch (name)
        {
            case "path": h.Path = r.String(); break;
            case "args": h.Args = r.List(StringElement); break;
            case "env": h.Env = r.List(StringElement); break;
            case "timeout": h.Timeout = r.Int32OrNull(); break;
            default: r.Unknown(); break;
        }
    });

    private static void LinuxProperty(ref OciConfigReader r, OciLinux l, string name)
    {
        switch (name)
        {
            case "namespaces": l.Namespaces = r.List(static (ref OciConfigReader r) => r.ObjectElement<OciNamespace>(NamespaceProperty)); break;
            case "uidMappings": l.UidMappings = r.List(IdMappingElement); break;
            case "gidMappings": l.GidMappings = r.List(IdMappingElement); break;
            case "devices": l.Devices = r.List(static (ref OciConfigReader r) => r.ObjectElement<OciDevice>(DeviceProperty)); break;
            case "cgroupsPath": l.CgroupsPath = r.String(); break;
            case "resources": l.Resources = r.Object<OciResources>(ResourcesProperty); break;
            case "rootfsPropagation": l.RootfsPropagation = r.String(); break;
            case "seccomp": l.Seccomp = r.SeccompWithSource(); break;
            case "sysctl": l.Sysctl = r.Map(StringElement); break;
            case "maskedPaths": l.MaskedPaths = r.List(StringElement); break;
            case "readonlyPaths": l.ReadonlyPaths = r.List(StringElement); break;
            case "mountLabel": l.MountLabel = r.String(); break;
            case "timeOffsets": l.TimeOffsets = r.Map(static (ref OciConfigReader r) => r.Element()); break;
            case "personality": l.Personality = r.Object<OciPersonality>(PersonalityProperty); break;
            default: r.Unknown(); break;
        }
    }

    private static void PersonalityProperty(ref OciConfigReader r, OciPersonality p, string name)
    {
        switch (name)
        {
            case "domain": p.Domain = r.String(); break;
            case "flags": p.Flags = r.List(StringElement); break;
            default: r.Unknown(); break;
        }
    }

    private static void NamespaceProperty(ref OciConfigReader r, OciNamespace ns, string name)
    {
        switch (name)
        {
            case "type": ns.Type = r.String(); break;
            case "path": ns.Path = r.String(); break;
            default: r.Unknown(); break;
        }
    }

    private static OciIdMapping IdMappingElement(ref OciConfigReader r) => r.ObjectElement<OciIdMapping>(static (ref OciConfigReader r, OciIdMapping m, string name) =>
    {
        switch (name)
        {
            case "containerID": m.ContainerId = r.UInt32(); break;
            case "hostID": m.HostId = r.UInt32(); break;
            case "size": m.Size = r.UInt32(); break;
            default: r.Unknown(); break;
        }
    });

    private static void DeviceProperty(ref OciConfigReader r, OciDevice d, string name)
    {
        switch (name)
        {
            case "type": d.Type = r.String(); break;
            case "path": d.Path = r.String(); break;
            case "major": d.Major = r.Int64(); break;
            case "minor": d.Minor = r.Int64(); break;
            case "fileMode": d.FileMode = r.UInt32OrNull(); break;
            case "uid": d.Uid = r.UInt32OrNull(); break;
            case "gid": d.Gid = r.UInt32OrNull(); break;
            default: r.Unknown(); break;
        }
    }

    private static void ResourcesProperty(ref OciConfigReader r, OciResources res, string name)
    {
        switch (name)
        {
            case "memory": res.Memory = r.Object<OciMemory>(MemoryProperty); break;
            case "cpu": res.Cpu = r.Object<OciCpu>(CpuProperty); break;
            case "pids": res.Pids = r.Object<OciPids>(static (ref OciConfigReader r, OciPids p, string name) =>
            {
                if (name == "limit")
                {
                    p.Limit = r.Int64();
                }
                else
                {
                    r.Unknown();
                }
            }); break;
            case "blockIO": res.BlockIo = r.Object<OciBlockIo>(BlockIoProperty); break;
            case "devices": res.Devices = r.List(static (ref OciConfigReader r) => r.ObjectElement<OciDeviceRule>(DeviceRuleProperty)); break;
            case "hugepageLimits": res.HugepageLimits = r.ElementOrNull(); break;
            case "network": res.Network = r.ElementOrNull(); break;
            case "rdma": res.Rdma = r.ElementOrNull(); break;
            case "unified": res.Unified = r.Map(StringElement); break;
            default: r.Unknown(); break;
        }
    }

    private static void MemoryProperty(ref OciConfigReader r, OciMemory m, string name)
    {
        switch (name)
        {
            case "limit": m.Limit = r.Int64OrNull(); break;
            case "reservation": m.Reservation = r.Int64OrNull(); break;
            case "swap": m.Swap = r.Int64OrNull(); break;
            case "kernel": m.Kernel = r.Int64OrNull(); break;
            case "kernelTCP": m.KernelTcp = r.Int64OrNull(); break;
            case "swappiness": m.Swappiness = r.UInt64OrNull(); break;
            case "disableOOMKiller": m.DisableOomKiller = r.BoolOrNull(); break;
            default: r.Unknown(); break;
        }
    }

    private static void CpuProperty(ref OciConfigReader r, OciCpu c, string name)
    {
        switch (name)
        {
            case "shares": c.Shares = r.UInt64OrNull(); break;
            case "quota": c.Quota = r.Int64OrNull(); break;
            case "period": c.Period = r.UInt64OrNull(); break;
            case "realtimeRuntime": c.RealtimeRuntime = r.Int64OrNull(); break;
            case "realtimePeriod": c.RealtimePeriod = r.UInt64OrNull(); break;
            case "cpus": c.Cpus = r.String(); break;
            case "mems": c.Mems = r.String(); break;
            default: r.Unknown(); break;
        }
    }

    private static void BlockIoProperty(ref OciConfigReader r, OciBlockIo b, string name)
    {
        switch (name)
        {
            case "weight": b.Weight = r.UInt16OrNull(); break;
            case "leafWeight": b.LeafWeight = r.UInt16OrNull(); break;
            case "weightDevice": b.WeightDevice = r.ElementOrNull(); break;
            case "throttleReadBpsDevice": b.ThrottleReadBpsDevice = r.List(ThrottleDeviceElement); break;
            case "throttleWriteBpsDevice": b.ThrottleWriteBpsDevice = r.List(ThrottleDeviceElement); break;
            case "throttleReadIOPSDevice": b.ThrottleReadIOPSDevice = r.List(ThrottleDeviceElement); break;
            case "throttleWriteIOPSDevice": b.ThrottleWriteIOPSDevice = r.List(ThrottleDeviceElement); break;
            default: r.Unknown(); break;
        }
    }

    private static OciThrottleDevice ThrottleDeviceElement(ref OciConfigReader r) => r.ObjectElement<OciThrottleDevice>(ThrottleDeviceProperty);

    private static void ThrottleDeviceProperty(ref OciConfigReader r, OciThrottleDevice t, string name)
    {
        switch (name)
        {
            case "major": t.Major = r.Int64(); break;
            case "minor": t.Minor = r.Int64(); break;
            case "rate": t.Rate = r.UInt64(); break;
            default: r.Unknown(); break;
        }
    }

    private static void DeviceRuleProperty(ref OciConfigReader r, OciDeviceRule d, string name)
    {
        switch (name)
        {
            case "allow": d.Allow = r.Bool(); break;
            case "type": d.Type = r.String(); break;
            case "major": d.Major = r.Int64OrNull(); break;
            case "minor": d.Minor = r.Int64OrNull(); break;
            case "access": d.Access = r.String(); break;
            default: r.Unknown(); break;
        }
    }

    private static void SeccompProperty(ref OciConfigReader r, OciSeccomp s, string name)
    {
        switch (name)
        {
            case "defaultAction": s.DefaultAction = r.String(); break;
            case "defaultErrnoRet": s.DefaultErrnoRet = r.UInt32OrNull(); break;
            case "architectures": s.Architectures = r.List(StringElement); break;
            case "flags": s.Flags = r.List(StringElement); break;
            case "listenerPath": s.ListenerPath = r.String(); break;
            case "listenerMetadata": s.ListenerMetadata = r.String(); break;
            case "syscalls": s.Syscalls = r.List(static (ref OciConfigReader r) => r.ObjectElement<OciSyscallRule>(SyscallRuleProperty)); break;
            default: r.Unknown(); break;
        }
    }

    /// <summary>linux.seccomp, keeping its exact text as <see cref="OciSeccomp.Source"/> (the compiled-filter cache's key).</summary>
    private OciSeccomp? SeccompWithSource()
    {
        var start = (int)_json.TokenStartIndex;
        var profile = Object<OciSeccomp>(SeccompProperty);
        profile?.Source = _text[start..(int)_json.BytesConsumed].ToArray();
        return profile;
    }

    private static void SyscallRuleProperty(ref OciConfigReader r, OciSyscallRule s, string name)
    {
        switch (name)
        {
            case "names": s.Names = r.List(StringElement); break;
            case "action": s.Action = r.String(); break;
            case "errnoRet": s.ErrnoRet = r.UInt32OrNull(); break;
            case "args": s.Args = r.List(static (ref OciConfigReader r) => r.ObjectElement<OciSyscallArg>(SyscallArgProperty)); break;
            default: r.Unknown(); break;
        }
    }

    private static void SyscallArgProperty(ref OciConfigReader r, OciSyscallArg a, string name)
    {
        switch (name)
        {
            case "index": a.Index = r.UInt32(); break;
            case "value": a.Value = r.UInt64(); break;
            case "valueTwo": a.ValueTwo = r.UInt64(); break;
            case "op": a.Op = r.String(); break;
            default: r.Unknown(); break;
        }
    }

    // The containers. Each is entered at its first token and left at its last.

    private T? Object<T>(PropertyReader<T> property)
        where T : class, new()
    {
        if (_json.TokenType == JsonTokenType.Null)
        {
            return null;
        }
        if (_json.TokenType != JsonTokenType.StartObject)
        {
            throw Mismatch(typeof(T));
        }
        var value = new T();
        Push(-1);
        while (Next() == JsonTokenType.PropertyName)
        {
            var name = PropertyName(typeof(T));
            _frames[_depth - 1].Name = name;
            Next();
            property(ref this, value, name);
            // As the serializer does: what fails between two properties is placed at the object, not at either.
            _frames[_depth - 1].Name = null;
        }
        _depth--;
        return value;
    }

    /// <summary>
    /// A list element that is an object. A null is let in, though the model's type says otherwise, as the serializer lets
    /// it in; it is noted, for NullAndNulScan to report.
    /// </summary>
    private T ObjectElement<T>(PropertyReader<T> property)
        where T : class, new()
    {
        _nullOrNul |= _json.TokenType == JsonTokenType.Null;
        return Object(property)!;
    }

    private List<T>? List<T>(ElementReader<T> element)
    {
        if (_json.TokenType == JsonTokenType.Null)
        {
            return null;
        }
        if (_json.TokenType != JsonTokenType.StartArray)
        {
            throw Mismatch(typeof(List<T>));
        }
        var list = new List<T>();
        Push(0);
        while (Next() != JsonTokenType.EndArray)
        {
            list.Add(element(ref this));
            _frames[_depth - 1].Count++;
        }
        _depth--;
        return list;
    }

    private Dictionary<string, T>? Map<T>(ElementReader<T> value)
    {
        if (_json.TokenType == JsonTokenType.Null)
        {
            return null;
        }
        if (_json.TokenType != JsonTokenType.StartObject)
        {
            throw Mismatch(typeof(Dictionary<string, T>));
        }
        var map = new Dictionary<string, T>();
        Push(-1);
        while (Next() == JsonTokenType.PropertyName)
        {
            // The key stays in the path after its value, as the serializer keeps it.
            var key = Text();
            _nullOrNul |= key.Contains('\0', StringComparison.Ordinal);
            _frames[_depth - 1].Name = key;
            Next();
            map[key] = value(ref this);
        }
        _depth--;
        return map;
    }

    /// <summary>A property the model does not have: skipped, as the runtime-spec asks.</summary>
    private void Unknown() => _json.Skip();

    // The values.

    /// <summary>A list element or map value that is a string: a null is let in and noted, as <see cref="ObjectElement"/> does.</summary>
    private static string StringElement(ref OciConfigReader r)
    {
        r._nullOrNul |= r._json.TokenType == JsonTokenType.Null;
        return r.String()!;
    }

    private string? String()
    {
        if (_json.TokenType == JsonTokenType.Null)
        {
            return null;
        }
        var s = Text();
        _nullOrNul |= s.Contains('\0', StringComparison.Ordinal);
        return s;
    }

    /// <summary>A string token's text; one that is not UTF-8, or not a string, cannot be converted.</summary>
    private string Text()
    {
        if (_json.TokenType is JsonTokenType.String or JsonTokenType.PropertyName)
        {
            try
            {
                return _json.GetString()!;
            }
            catch (InvalidOperationException)
            {
            }
        }
        throw Mismatch(typeof(string));
    }

    /// <summary>
    /// A property's name as the serializer matches it (unescaped) and shows it in a path: bytes that are not UTF-8 are
    /// let through, shown as U+FFFD; an escaped lone surrogate is refused, as a value that is no <paramref name="owner"/>.
    /// </summary>
    private readonly string PropertyName(Type owner)
    {
        try
        {
            return _json.GetString()!;
        }
        catch (InvalidOperationException)
        {
        }
        var replaced = Encoding.UTF8.GetString(_json.ValueSpan);
        if (!_json.ValueIsEscaped)
        {
            return replaced;
        }
        // Escapes are ASCII and decode to whole characters, so replacing bad bytes first and unescaping then comes to
        // the same; what still fails is a lone surrogate.
        var quoted = new Utf8JsonReader(Encoding.UTF8.GetBytes($"\"{replaced}\""));
        quoted.Read();
        try
        {
            return quoted.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw Mismatch(owner);
        }
    }

    private bool Bool() => _json.TokenType switch
    {
        JsonTokenType.True => true,
        JsonTokenType.False => false,
        _ => throw Mismatch(typeof(bool)),
    };

    private bool? BoolOrNull() => _json.TokenType switch
    {
        JsonTokenType.True => true,
        JsonTokenType.False => false,
        JsonTokenType.Null => null,
        _ => throw Mismatch(typeof(bool?)),
    };

    private int? Int32OrNull() => IsNull ? null : IsNumber && _json.TryGetInt32(out var v) ? v : throw Mismatch(typeof(int?));

    private uint UInt32() => IsNumber && _json.TryGetUInt32(out var v) ? v : throw Mismatch(typeof(uint));

    private uint? UInt32OrNull() => IsNull ? null : IsNumber && _json.TryGetUInt32(out var v) ? v : throw Mismatch(typeof(uint?));

    private ushort? UInt16OrNull() => IsNull ? null : IsNumber && _json.TryGetUInt16(out var v) ? v : throw Mismatch(typeof(ushort?));

    private long Int64() => IsNumber && _json.TryGetInt64(out var v) ? v : throw Mismatch(typeof(long));

    private long? Int64OrNull() => IsNull ? null : IsNumber && _json.TryGetInt64(out var v) ? v : throw Mismatch(typeof(long?));

    private ulong UInt64() => IsNumber && _json.TryGetUInt64(out var v) ? v : throw Mismatch(typeof(ulong));

    private ulong? UInt64OrNull() => IsNull ? null : IsNumber && _json.TryGetUInt64(out var v) ? v : throw Mismatch(typeof(ulong?));

    private JsonElement Element() => JsonElement.ParseValue(ref _json);

    private JsonElement? ElementOrNull() => IsNull ? null : JsonElement.ParseValue(ref _json);

    private readonly bool IsNull => _json.TokenType == JsonTokenType.Null;

    private readonly bool IsNumber => _json.TokenType == JsonTokenType.Number;

    // The path and the errors.

    private JsonTokenType Next()
    {
        _json.Read();
        return _json.TokenType;
    }

    private void Push(int count)
    {
        if (_depth == _frames.Length)
        {
            Array.Resize(ref _frames, _depth * 2);
        }
        _frames[_depth++] = new Frame(null, count);
    }

    /// <summary>The JSON path as the serializer writes it: $.linux.namespaces[2].type, $.annotations['org.example'].</summary>
    private readonly string Path()
    {
        var sb = new StringBuilder("$");
        for (var i = 0; i < _depth; i++)
        {
            if (_frames[i].Name is { } name)
            {
                if (name.AsSpan().ContainsAny(SpecialCharacters))
                {
                    sb.Append("['").Append(name).Append("']");
                }
                else
                {
                    sb.Append('.').Append(name);
                }
            }
            if (_frames[i].Count >= 0)
            {
                sb.Append('[').Append(_frames[i].Count).Append(']');
            }
        }
        return sb.ToString();
    }

    /// <summary>The characters for which the serializer writes a name in a path as ['name'].</summary>
    private static readonly SearchValues<char> SpecialCharacters = SearchValues.Create(". '/\"[]()\t\n\r\f\b\\\u0085\u2028\u2029");

    /// <summary>The serializer's error for a value of the wrong type, placed just after it.</summary>
    private readonly JsonException Mismatch(Type type)
    {
        var consumed = _text[..(int)_json.BytesConsumed];
        var lineStart = consumed.LastIndexOf((byte)'\n') + 1;
        return new JsonException($"The JSON value could not be converted to {type}.", Path(),
            consumed.Count((byte)'\n'), consumed.Length - lineStart);
    }
}
