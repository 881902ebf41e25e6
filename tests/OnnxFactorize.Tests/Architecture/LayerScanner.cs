using System.Reflection;
using System.Reflection.Emit;

namespace OnnxFactorize.Tests.Architecture;

/// <summary>Finds which engine namespaces each type of an assembly uses: its base type and interfaces, the types of its
/// fields, properties, parameters and return values, and every type, method and field its method bodies reference (read
/// from the IL). Compiler-generated types (lambdas, iterators) count for the namespace they live in.</summary>
internal static class LayerScanner
{
    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    /// <summary>Every (user namespace, used namespace, user type, used type) edge from a type whose namespace starts with
    /// <paramref name="fromPrefix"/> to a type of another namespace under <paramref name="toPrefix"/>.</summary>
    public static IEnumerable<(string From, string To, string FromType, string ToType)> Edges(Assembly assembly, string fromPrefix, string toPrefix = "OnnxFactorize")
    {
        foreach (var type in assembly.GetTypes())
        {
            var from = NamespaceOf(type);
            if (from is null || !from.StartsWith(fromPrefix, StringComparison.Ordinal))
            {
                continue;
            }

            foreach (var used in UsedTypes(type).Distinct())
            {
                var to = NamespaceOf(used);
                if (to is not null && to != from && (to == toPrefix || to.StartsWith(toPrefix + ".", StringComparison.Ordinal)))
                {
                    yield return (from, to, type.FullName ?? type.Name, used.FullName ?? used.Name);
                }
            }
        }
    }

    private static string? NamespaceOf(Type type)
    {
        while (type.IsNested)
        {
            type = type.DeclaringType!;
        }

        return type.Namespace;
    }

    private static IEnumerable<Type> Expand(Type? type)
    {
        if (type is null)
        {
            yield break;
        }

        if (type.HasElementType)
        {
            foreach (var t in Expand(type.GetElementType()))
            {
                yield return t;
            }

            yield break;
        }

        if (type.IsGenericType && !type.IsGenericTypeDefinition)
        {
            yield return type.GetGenericTypeDefinition();
            foreach (var t in type.GetGenericArguments().SelectMany(Expand))
            {
                yield return t;
            }

            yield break;
        }

        if (!type.IsGenericParameter)
        {
            yield return type;
        }
    }

    private static IEnumerable<Type> UsedTypes(Type type)
    {
        var found = new List<Type>();
        found.AddRange(Expand(type.BaseType));
        found.AddRange(type.GetInterfaces().SelectMany(Expand));
        found.AddRange(type.GetFields(All).SelectMany(f => Expand(f.FieldType)));
        found.AddRange(type.GetProperties(All).SelectMany(p => Expand(p.PropertyType)));
        foreach (var method in type.GetMethods(All).Cast<MethodBase>().Concat(type.GetConstructors(All)))
        {
            if (method is MethodInfo info)
            {
                found.AddRange(Expand(info.ReturnType));
            }

            found.AddRange(method.GetParameters().SelectMany(p => Expand(p.ParameterType)));
            found.AddRange(BodyReferences(method).SelectMany(Expand));
        }

        return found;
    }

    // Walks the IL of a method body and resolves every metadata token an instruction carries to the type it names or
    // the type declaring the member it names.
    private static IEnumerable<Type> BodyReferences(MethodBase method)
    {
        var il = method.GetMethodBody()?.GetILAsByteArray();
        if (il is null)
        {
            yield break;
        }

        var module = method.Module;
        var typeArgs = method.DeclaringType?.IsGenericType == true ? method.DeclaringType.GetGenericArguments() : null;
        var methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        var i = 0;
        while (i < il.Length)
        {
            OpCode op;
            if (il[i] == 0xFE)
            {
                op = OpCodesByValue[(short)(0xFE00 | il[i + 1])];
                i += 2;
            }
            else
            {
                op = OpCodesByValue[il[i]];
                i += 1;
            }

            switch (op.OperandType)
            {
                case OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineType or OperandType.InlineTok:
                    var token = BitConverter.ToInt32(il, i);
                    Type? resolved = null;
                    try
                    {
                        resolved = module.ResolveMember(token, typeArgs, methodArgs) switch
                        {
                            Type t => t,
                            MemberInfo m => m.DeclaringType,
                            _ => null,
                        };
                    }
                    catch (ArgumentException)
                    {
                    }

                    if (resolved is not null)
                    {
                        yield return resolved;
                    }

                    i += 4;
                    break;
                case OperandType.InlineSwitch:
                    i += 4 + (4 * BitConverter.ToInt32(il, i));
                    break;
                case OperandType.InlineNone:
                    break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                    i += 1;
                    break;
                case OperandType.InlineVar:
                    i += 2;
                    break;
                case OperandType.InlineI8 or OperandType.InlineR:
                    i += 8;
                    break;
                default:
                    i += 4;
                    break;
            }
        }
    }
}
