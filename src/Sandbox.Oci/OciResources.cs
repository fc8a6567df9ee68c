using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sandbox.Oci;

/// <summary>linux.resources: the cgroup limits of the runtime-spec that Sandbox reads.</summary>
public sealed record OciResources
{
    public OciMemory? Memory { get; set; }
    public OciCpu? Cpu { get; set; }
    public OciPids? Pids { get; set; }

    [JsonPropertyName("blockIO")]
    public OciBlockIo? BlockIo { get; set; }

    public List<OciDeviceRule>? Devices { get; set; }

    // Present in the spec; refused when set, until Sandbox enforces them.
    public JsonElement? HugepageLimits { get; set; }
    public JsonElement? Network { get; set; }
    public JsonElement? Rdma { get; set; }
    public Dictionary<string, string>? Unified { get; set; }
}

public sealed record OciMemory
{
    public long? Limit { get; set; }
    public long? Reservation { get; set; }
    public long? Swap { get; set; }
    public long? Kernel { get; set; }

    [JsonPropertyName("kernelTCP")]
    public long? KernelTcp { get; set; }

    public ulong? Swappiness { get; set; }

    [JsonPropertyName("disableOOMKiller")]
    public bool? DisableOomKiller { get; set; }
}

public sealed record OciCpu
{
    public ulong? Shares { get; set; }
    public long? Quota { get; set; }
    public ulong? Period { get; set; }
    public long? RealtimeRuntime { get; set; }
    public ulong? RealtimePeriod { get; set; }
    public string? Cpus { get; set; }
    public string? Mems { get; set; }
}

public sealed record OciPids
{
    public long Limit { get; set; }
}

public sealed record OciBlockIo
{
    public ushort? Weight { get; set; }
    public ushort? LeafWeight { get; set; }
    public JsonElement? WeightDevice { get; set; }
    public List<OciThrottleDevice>? ThrottleReadBpsDevice { get; set; }
    public List<OciThrottleDevice>? ThrottleWriteBpsDevice { get; set; }
    public List<OciThrottleDevice>? ThrottleReadIOPSDevice { get; set; }
    public List<OciThrottleDevice>? ThrottleWriteIOPSDevice { get; set; }
}

/// <summary>A block device's I/O rate limit: bytes or operations per second.</summary>
public sealed record OciThrottleDevice
{
    public long Major { get; set; }
    public long Minor { get; set; }
    public ulong Rate { get; set; }
}

public sealed record OciDeviceRule
{
    public bool Allow { get; set; }
    public string? Type { get; set; }
    public long? Major { get; set; }
    public long? Minor { get; set; }
    public string? Access { get; set; }
}
