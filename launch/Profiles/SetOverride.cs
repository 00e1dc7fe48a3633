using System.Text;
using System.Text.RegularExpressions;

namespace SplitEmu.Launch.Profiles;

/// <summary>
/// One <c>--set path=value</c> command-line override, applied to the merged profile before
/// validation (so overridden values are validated like any other).
/// <list type="bullet">
/// <item>path: property names joined by dots, with <c>[n]</c> for an array index; a name step
/// into an array selects the entry with that <c>id</c> (<c>devices.com1.irq</c> is <c>devices[0].irq</c>
/// when com1 is the first device). Missing objects on the way are created.</item>
/// <item>value: JSON when it parses as JSON (<c>32</c>, <c>true</c>, <c>"text"</c>, <c>{...}</c>),
/// otherwise the text itself as a string (<c>inline</c>, <c>0x100000</c>).</item>
/// <item><c>null</c> removes the property or array entry.</item>
/// </list>
/// Errors name the whole override as their file: <c>--set devices.com9.irq=5: ...</c>.
/// </summary>
internal sealed partial class SetOverride
{
    private readonly List<Step> _steps;
    private readonly SourceNode _value;

    private SetOverride(SourceLocation location, List<Step> steps, SourceNode value)
    {
        Location = location;
        _steps = steps;
        _value = value;
    }

    /// <summary>Where values from this override come from, for error messages.</summary>
    public SourceLocation Location { get; }

    /// <summary>Parses <paramref name="text"/>; returns null and adds an error when it is not <c>path=value</c>.</summary>
    public static SetOverride? Parse(string text, string workingDirectory, List<ProfileError> errors)
    {
        var location = new SourceLocation("--set " + text, 0, 0, workingDirectory);
        int equals = text.IndexOf('=');
        if (equals <= 0)
        {
            errors.Add(location.Error("", "expected path=value, for example memory.sizeMiB=32 or devices.com1.placement=inline"));
            return null;
        }

        string path = text[..equals];
        var steps = new List<Step>();
        foreach (string part in path.Split('.'))
        {
            Match match = StepPattern().Match(part);
            if (part.Length == 0 || !match.Success)
            {
                errors.Add(location.Error("", $"'{path}' is not a property path; expected names joined by dots with optional [index], for example devices[0].irq"));
                return null;
            }

            if (match.Groups["name"].Success)
            {
                steps.Add(new Step(match.Groups["name"].Value, null));
            }

            foreach (Capture index in match.Groups["index"].Captures)
            {
                if (!int.TryParse(index.Value, out int number))
                {
                    errors.Add(location.Error("", $"index [{index.Value}] is too large; expected an index of an existing entry"));
                    return null;
                }

                steps.Add(new Step(null, number));
            }
        }

        if (steps[0].Name is "schemaVersion" or "extends" or "$schema")
        {
            errors.Add(location.Error("", $"'{steps[0].Name}' describes the profile file and cannot be overridden; expected a machine property such as memory.sizeMiB"));
            return null;
        }

        string valueText = text[(equals + 1)..];
        var ignored = new List<ProfileError>();
        SourceNode? parsed = SourceJsonParser.Parse(Encoding.UTF8.GetBytes(valueText), location.File, workingDirectory, ignored);
        SourceNode value = parsed is not null && ignored.Count == 0
            ? Relocate(parsed, location)
            : new SourceScalar(location, ScalarKind.String, valueText);
        return new SetOverride(location, steps, value);
    }

    /// <summary>Writes the value into <paramref name="root"/>; adds an error when the path does not lead anywhere.</summary>
    public void Apply(SourceObject root, List<ProfileError> errors)
    {
        SourceNode current = root;
        string path = JsonPath.Root;
        for (int i = 0; i < _steps.Count; i++)
        {
            Step step = _steps[i];
            bool last = i == _steps.Count - 1;
            if (step.Name is { } name && current is SourceObject obj)
            {
                string childPath = JsonPath.Property(path, name);
                if (last)
                {
                    SetProperty(obj, name);
                    return;
                }

                SourceNode? child = obj.Find(name)?.Value;
                if (child is null)
                {
                    // Missing objects on the way are created, so restart.policy can be set on a device without a restart block.
                    child = new SourceObject(Location);
                    obj.Set(new SourceProperty(name, Location, child));
                }

                current = child;
                path = childPath;
            }
            else if (current is SourceArray array)
            {
                int index = step.Index ?? array.Items.FindIndex(item => ProfileMerger.IdOf(item) == step.Name);
                if (index < 0 || index >= array.Items.Count)
                {
                    errors.Add(Location.Error(path, step.Index is null
                        ? $"no entry with id '{step.Name}'; expected one of: {string.Join(", ", array.Items.Select(ProfileMerger.IdOf).OfType<string>())}"
                        : $"index {index} is out of range; expected 0-{array.Items.Count - 1}"));
                    return;
                }

                if (last)
                {
                    SetItem(array, index);
                    return;
                }

                current = array.Items[index];
                path = JsonPath.Index(path, index);
            }
            else
            {
                string wanted = step.Name is null ? $"[{step.Index}]" : $"'{step.Name}'";
                errors.Add(Location.Error(path, $"is {current.KindWithArticle}, so {wanted} cannot be set inside it; expected a path through objects and arrays"));
                return;
            }
        }
    }

    private void SetProperty(SourceObject obj, string name)
    {
        if (_value is SourceScalar { Kind: ScalarKind.Null })
        {
            obj.Remove(name);
        }
        else
        {
            obj.Set(new SourceProperty(name, Location, _value));
        }
    }

    private void SetItem(SourceArray array, int index)
    {
        if (_value is SourceScalar { Kind: ScalarKind.Null })
        {
            array.Items.RemoveAt(index);
        }
        else
        {
            array.Items[index] = _value;
        }
    }

    /// <summary>Gives every node of a parsed value the override's location (the value has no lines of its own).</summary>
    private static SourceNode Relocate(SourceNode node, SourceLocation location)
    {
        switch (node)
        {
            case SourceObject obj:
                var newObject = new SourceObject(location);
                foreach (SourceProperty property in obj.Properties)
                {
                    newObject.Properties.Add(new SourceProperty(property.Name, location, Relocate(property.Value, location)));
                }

                return newObject;
            case SourceArray array:
                var newArray = new SourceArray(location);
                newArray.Items.AddRange(array.Items.Select(item => Relocate(item, location)));
                return newArray;
            default:
                var scalar = (SourceScalar)node;
                return new SourceScalar(location, scalar.Kind, scalar.Text);
        }
    }

    /// <summary>One step of the path: a property name (or an id inside an array), or an array index.</summary>
    private sealed record Step(string? Name, int? Index);

    [GeneratedRegex(@"^(?<name>[A-Za-z0-9_$-]+)?(\[(?<index>[0-9]+)\])*$")]
    private static partial Regex StepPattern();
}
