using System.Runtime.CompilerServices;

// The profile tests check internal tables (the binder's property names) against the model and the JSON Schema.
[assembly: InternalsVisibleTo("SplitEmu.Tests")]
