using System.Text;
using System.Text.Json.Nodes;
using SplitEmu.Launch.Profiles;

namespace SplitEmu.Tests.Profiles;

/// <summary>
/// Randomized input never makes the loader throw, never yields both a profile and errors (or
/// neither), and never produces an "internal error" (the loader's name for a bug it caught).
/// Seeds are fixed so a failure reproduces; iteration counts bound the run to about a second.
/// </summary>
[Trait("Category", "Slow")] // starts processes or runs a long stress: not in the fast tier
public sealed class ProfileFuzzTests
{
    private const int Seed = 6;
    private const int TextMutations = 3000;
    private const int TreeMutations = 2000;
    private const int OverrideMutations = 2000;
    private const int ByteFileMutations = 200;

    private readonly ProfileLoader _loader = new(ProfileTestPaths.SplitemuDirectory, ProfileTestPaths.RepositoryRoot);

    /// <summary>Valid and invalid profiles to start from: everything shipped plus the bad corpus.</summary>
    private static readonly string[] s_seeds = Directory.GetFiles(ProfileTestPaths.ShippedProfiles, "*.json")
        .Concat(Directory.GetFiles(ProfileTestPaths.BadCorpus, "*.json"))
        .Order()
        .Select(File.ReadAllText)
        .ToArray();

    /// <summary>Fragments that tend to reach deeper into the parser than random characters do.</summary>
    private static readonly string[] s_fragments =
    [
        "{", "}", "[", "]", ",", ":", "\"", "null", "true", "-1", "0x", "\"0x3f8\"", "1e999", "18446744073709551616",
        "\"devices\"", "\"id\"", "\"com1\"", "\"extends\"", "\"default.json\"", "\"${splitemu}/\"", "\\u0000", "\u00e9", "\n",
    ];

    [Fact]
    public void MutatedProfileTextNeverThrows()
    {
        var random = new Random(Seed);
        for (int i = 0; i < TextMutations; i++)
        {
            string text = MutateText(s_seeds[random.Next(s_seeds.Length)], random);

            ProfileLoadResult result = _loader.LoadFromText(text, "fuzz.json", ProfileTestPaths.ShippedProfiles, []);

            AssertWellFormed(result, text);
        }
    }

    [Fact]
    public void ProfilesWithRandomlyRetypedValuesNeverThrow()
    {
        var random = new Random(Seed);
        string[] objects = s_seeds.Where(s => TryParseObject(s) is not null).ToArray();
        for (int i = 0; i < TreeMutations; i++)
        {
            JsonObject root = TryParseObject(objects[random.Next(objects.Length)])!;
            List<JsonNode> nodes = Descendants(root).ToList();
            JsonNode target = nodes[random.Next(nodes.Count)];
            target.ReplaceWith(RandomValue(random));
            string text = root.ToJsonString();

            ProfileLoadResult result = _loader.LoadFromText(text, "fuzz.json", ProfileTestPaths.ShippedProfiles, []);

            AssertWellFormed(result, text);
        }
    }

    [Fact]
    public void RandomOverridesNeverThrow()
    {
        string[] paths = ["memory.sizeMiB", "devices.com1", "devices.com1.irq", "devices[1].io", "devices[5]", "cpu", "cpu.entry", "load[0].file", "load", "console", "name", "devices.com1.restart.giveUp", "devices.com1.config.x", "a.b.c", "devices", "devices[0][0]", ""];
        string[] values = ["", "null", "1", "-1", "0x", "0xffffffffffffffffff", "inline", "{}", "[]", "[1,2]", "{\"id\":\"com1\"}", "\"", "true", "{", "x=y"];
        var random = new Random(Seed);
        for (int i = 0; i < OverrideMutations; i++)
        {
            string[] overrides = Enumerable.Range(0, random.Next(1, 4))
                .Select(_ => paths[random.Next(paths.Length)] + (random.Next(10) == 0 ? "" : "=") + values[random.Next(values.Length)])
                .ToArray();

            ProfileLoadResult result = _loader.LoadEmbeddedDefault(overrides);

            AssertWellFormed(result, string.Join(" ", overrides));
        }
    }

    [Fact]
    public void RandomBytesInAProfileFileNeverThrow()
    {
        var random = new Random(Seed);
        string folder = Directory.CreateTempSubdirectory("splitemu-profile-fuzz-").FullName;
        try
        {
            string file = Path.Combine(folder, "fuzz.json");
            for (int i = 0; i < ByteFileMutations; i++)
            {
                byte[] bytes = Encoding.UTF8.GetBytes(s_seeds[random.Next(s_seeds.Length)]);
                for (int flips = random.Next(1, 8); flips > 0 && bytes.Length > 0; flips--)
                {
                    // Any byte value, so invalid UTF-8 and stray BOMs reach the parser.
                    bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                }

                File.WriteAllBytes(file, bytes);

                ProfileLoadResult result = _loader.Load(file, []);

                AssertWellFormed(result, Convert.ToHexString(bytes));
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static void AssertWellFormed(ProfileLoadResult result, string input)
    {
        Assert.True(result.Succeeded != (result.Errors.Count > 0), $"a result must have a profile or errors, not both or neither; input: {input}");
        foreach (ProfileError error in result.Errors)
        {
            string line = error.ToString();
            Assert.DoesNotContain("internal error", line);
            Assert.DoesNotContain('\n', line);
        }
    }

    private static string MutateText(string text, Random random)
    {
        var builder = new StringBuilder(text);
        for (int edits = random.Next(1, 4); edits > 0; edits--)
        {
            int at = builder.Length == 0 ? 0 : random.Next(builder.Length);
            switch (random.Next(4))
            {
                case 0:
                    builder.Length = at;
                    break;
                case 1:
                    builder.Remove(at, Math.Min(random.Next(1, 16), builder.Length - at));
                    break;
                case 2:
                    builder.Insert(at, s_fragments[random.Next(s_fragments.Length)]);
                    break;
                default:
                    if (builder.Length > 0)
                    {
                        builder[at] = (char)random.Next(32, 127);
                    }

                    break;
            }
        }

        return builder.ToString();
    }

    private static JsonNode? RandomValue(Random random) => random.Next(9) switch
    {
        0 => null,
        1 => JsonValue.Create(random.Next(2) == 0),
        2 => JsonValue.Create(random.Next(-70000, 70000)),
        3 => JsonValue.Create(random.NextDouble() * 1e20),
        4 => JsonValue.Create("0x" + random.NextInt64().ToString("x")),
        5 => JsonValue.Create(new string((char)random.Next(32, 127), random.Next(0, 4))),
        6 => new JsonObject { ["id"] = "com1", ["x"] = 1 },
        7 => new JsonArray(1, "two", null),
        _ => JsonValue.Create("com1"),
    };

    private static JsonObject? TryParseObject(string text)
    {
        try
        {
            // Count forces the lazy object to build its dictionary, which rejects duplicate keys.
            return JsonNode.Parse(text) is JsonObject obj && obj.Count >= 0 ? obj : null;
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>Every node below the root (not the root itself, which ReplaceWith cannot replace).</summary>
    private static IEnumerable<JsonNode> Descendants(JsonNode node)
    {
        IEnumerable<JsonNode?> children = node switch
        {
            JsonObject obj => obj.Select(p => p.Value),
            JsonArray array => array,
            _ => [],
        };
        foreach (JsonNode? child in children.ToList())
        {
            if (child is null)
            {
                continue;
            }

            yield return child;
            foreach (JsonNode grandchild in Descendants(child))
            {
                yield return grandchild;
            }
        }
    }
}
