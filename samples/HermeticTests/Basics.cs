using Xunit;

namespace HermeticTests;

/// <summary>Ordinary tests: a sandbox changes nothing for them.</summary>
public class Basics
{
    [Fact]
    public void Adds() => Assert.Equal(4, 2 + 2);

    [Theory]
    [InlineData("sandbox", 7)]
    [InlineData("hermetic", 8)]
    public void Counts_letters(string word, int letters) => Assert.Equal(letters, word.Length);
}
