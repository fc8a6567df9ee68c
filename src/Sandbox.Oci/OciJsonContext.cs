using System.Text.Json.Serialization;

namespace Sandbox.Oci;

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true)]
[JsonSerializable(typeof(OciConfig))]
[JsonSerializable(typeof(OciState))]
[JsonSerializable(typeof(OciResources))]
[JsonSerializable(typeof(OciProcess))]
internal sealed partial class OciJsonContext : JsonSerializerContext;
