namespace Sandbox.Tests.Shared;

/// <summary>
/// A test that needs root (namespaces, mounts, mknod, cgroups, bpf). It skips with a reason elsewhere; under CI=true
/// it never skips, so a CI without root fails instead of passing silently.
/// </summary>
public sealed class PrivilegedFactAttribute : FactAttribute
{
    public PrivilegedFactAttribute()
    {
        Skip = Privileged.SkipReason;
    }
}

/// <summary>A theory that needs root, as <see cref="PrivilegedFactAttribute"/>.</summary>
public sealed class PrivilegedTheoryAttribute : TheoryAttribute
{
    public PrivilegedTheoryAttribute()
    {
        Skip = Privileged.SkipReason;
    }
}

internal static class Privileged
{
    public static string? SkipReason =>
        Environment.UserName != "root" && Environment.GetEnvironmentVariable("CI") != "true"
            ? "needs root: containers, cgroups and kernel programs are made for real (CI runs these as root)"
            : null;
}
