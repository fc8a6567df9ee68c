namespace Sandbox.Oci;

/// <summary>The runtime-spec versions Sandbox accepts: 1.0.x to 1.3.x, with any pre-release suffix.</summary>
public static class OciVersions
{
    public const string Current = "1.2.1";

    public static bool IsSupported(string version)
    {
        var core = version.Split('-', '+')[0].Split('.');
        return core.Length == 3
            && core[0] == "1"
            && int.TryParse(core[1], out var minor) && minor is >= 0 and <= 3
            && int.TryParse(core[2], out var patch) && patch >= 0;
    }
}
