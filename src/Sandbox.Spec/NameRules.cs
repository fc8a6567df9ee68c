using System.Net;
using System.Net.Sockets;

namespace Sandbox.Spec;

/// <summary>What makes a hostname, an environment variable name or an address acceptable in sandbox.yaml.</summary>
internal static class NameRules
{
    /// <summary>The kernel's limit on a UTS hostname (HOST_NAME_MAX).</summary>
    public const int MaxHostnameLength = 64;

    /// <summary>The longest name DNS can carry, which bounds names in /etc/hosts.</summary>
    public const int MaxHostsNameLength = 253;

    /// <summary>
    /// RFC 1123 names: letters, digits and '-' in dot-separated labels of 1–63 characters that neither start nor end
    /// with '-'. Anything else confuses resolvers and tools that print the hostname.
    /// </summary>
    public static bool IsHostname(string name, int maxLength)
    {
        if (name.Length == 0 || name.Length > maxLength)
        {
            return false;
        }

        foreach (var label in name.Split('.'))
        {
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-'
                || !label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The portable shell name: a letter or '_', then letters, digits or '_'.</summary>
    public static bool IsEnvName(ReadOnlySpan<char> name)
    {
        if (name.IsEmpty || !(char.IsAsciiLetter(name[0]) || name[0] == '_'))
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '_'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>An exact name, or a non-empty name prefix followed by '*'.</summary>
    public static bool IsEnvPattern(string pattern) =>
        IsEnvName(pattern.EndsWith('*') ? pattern.AsSpan(0, pattern.Length - 1) : pattern);

    /// <summary>
    /// A dotted-quad IPv4 address (without the shorthand forms inet_aton also takes, such as "127.1", or leading zeros
    /// that some tools read as octal) or an IPv6 address as /etc/hosts accepts it.
    /// </summary>
    public static bool IsIpAddress(string text)
    {
        if (text.Contains(':', StringComparison.Ordinal))
        {
            return text.All(c => char.IsAsciiHexDigit(c) || c is ':' or '.')
                && IPAddress.TryParse(text, out var address)
                && address.AddressFamily == AddressFamily.InterNetworkV6;
        }

        var parts = text.Split('.');
        return parts.Length == 4 && parts.All(part =>
            part.Length is >= 1 and <= 3
            && part.All(char.IsAsciiDigit)
            && (part.Length == 1 || part[0] != '0')
            && int.Parse(part, System.Globalization.CultureInfo.InvariantCulture) <= 255);
    }

    /// <summary>The canonical capability name the user probably meant: case and a missing CAP_ prefix forgiven, then typos.</summary>
    public static string? SuggestCapability(string given)
    {
        var upper = given.ToUpperInvariant();
        var prefixed = upper.StartsWith("CAP_", StringComparison.Ordinal) ? upper : "CAP_" + upper;
        if (Array.IndexOf(Oci.LinuxNames.Capabilities, prefixed) >= 0)
        {
            return prefixed;
        }

        // A shortened name (CAP_NET_BIND) is as likely as a typo; suggest the one capability it begins, if unique.
        var extensions = Oci.LinuxNames.Capabilities.Where(c => c.StartsWith(prefixed, StringComparison.Ordinal)).Take(2).ToList();
        return extensions.Count == 1 ? extensions[0] : Suggestions.Closest(prefixed, Oci.LinuxNames.Capabilities);
    }
}
