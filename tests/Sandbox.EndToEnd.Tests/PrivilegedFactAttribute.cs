namespace Sandbox.EndToEnd.Tests;

/// <summary>
/// A test that needs root (namespaces, mounts, mknod). It skips with a reason elsewhere; under CI=true it never
/// skips, so a CI without root fails instead of passing silently.
/// </summary>
public sealed class PrivilegedFactAttribute : FactAttribute
{
    public PrivilegedFactAttribute()
    {
        if (!SandboxHost.IsRoot && Environment.GetEnvironmentVariable("CI") != "true")
        {
            Skip = "needs root: containers are created for real (CI runs these as root)";
        }
    }
}
