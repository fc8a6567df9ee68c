namespace Sandbox;

/// <summary>Every user-facing error code. docs/errors.md explains each; tests assert them.</summary>
public static class ErrorCodes
{
    // config.json
    public const string ConfigMissing = "SBX1001";
    public const string ConfigMalformed = "SBX1002";
    public const string ConfigVersion = "SBX1003";
    public const string ConfigInvalid = "SBX1004";
    public const string RootfsMissing = "SBX1005";
    public const string NamespaceUnknown = "SBX1006";
    public const string RlimitImpossible = "SBX1007";
    public const string CapabilityUnknown = "SBX1008";
    public const string MountEscapes = "SBX1009";
    public const string IdMapping = "SBX1010";
    public const string Unsupported = "SBX1011";
    public const string ResourceInvalid = "SBX1012";
    public const string CgroupsPathEscapes = "SBX1013";
    public const string SeccompInvalid = "SBX1014";
    public const string InputNotRegular = "SBX1015";
    public const string SysctlRefused = "SBX1016";
    public const string ControllerMissing = "SBX2007";
    public const string CgroupFailed = "SBX2008";

    // starting a container
    public const string SetupFailed = "SBX2001";
    public const string ExecFailed = "SBX2002";
    public const string CloneFailed = "SBX2003";
    public const string HookFailed = "SBX2004";
    public const string UserNamespaceDenied = "SBX2005";
    public const string TimedOut = "SBX2006";

    // command line and state
    public const string Usage = "SBX3001";
    public const string ContainerExists = "SBX3002";
    public const string ContainerNotFound = "SBX3003";
    public const string WrongState = "SBX3004";
    public const string StateCorrupt = "SBX3005";
    public const string SignalUnknown = "SBX3006";
    public const string IdInvalid = "SBX3007";
    public const string Io = "SBX3008";

    // building a bundle from sandbox.yaml (SBX4001–4024 are the spec's own, in Sandbox.Spec)
    public const string BuildThroughSymlink = "SBX4025";
    public const string BuildPathConflict = "SBX4026";
    public const string InputRefused = "SBX4027";
    public const string InputChanged = "SBX4028";
    public const string MountExposesCache = "SBX4029";
    public const string OciLayoutExists = "SBX4030";
}
