#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Validate a JSON document against one of docs/schema/*.schema.json.

Usage: json-validate.py SCHEMA [DOCUMENT]   (DOCUMENT defaults to stdin)
Exit: 0 valid, 1 invalid (each error on stderr as "<json path>: <reason>"), 2 bad usage/schema.

A small JSON Schema (2020-12) validator for the keywords our schemas use: type, enum, const,
properties, required, additionalProperties (boolean), items, minItems, minLength, pattern,
$ref to "#/$defs/...". Any other keyword in the schema is an error, so a schema cannot
quietly rely on something this does not check. When Debian's python3-jsonschema is installed,
the document is validated by it too and both must agree.
"""
import json
import re
import sys

ANNOTATIONS = {"$schema", "$comment", "$defs", "title", "description"}
TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "null": lambda v: v is None,
}


class SchemaError(Exception):
    pass


def resolve(root, ref):
    if not ref.startswith("#/$defs/"):
        raise SchemaError("unsupported $ref %r" % ref)
    return root["$defs"][ref[len("#/$defs/"):]]


def validate(root, schema, value, path, errors):
    for key in schema:
        if key not in ANNOTATIONS and key not in CHECKS:
            raise SchemaError("%s: unsupported keyword %r" % (path, key))
    for key, arg in schema.items():
        if key in CHECKS:
            CHECKS[key](root, schema, arg, value, path, errors)


def k_ref(root, schema, arg, value, path, errors):
    validate(root, resolve(root, arg), value, path, errors)


def k_type(root, schema, arg, value, path, errors):
    types = arg if isinstance(arg, list) else [arg]
    if not any(TYPES[t](value) for t in types):
        errors.append("%s: %s is not of type %s" % (path, json.dumps(value), " or ".join(types)))


def k_enum(root, schema, arg, value, path, errors):
    if not any(value == a and type(value) is type(a) for a in arg):
        errors.append("%s: %s is not one of %s" % (path, json.dumps(value), json.dumps(arg)))


def k_const(root, schema, arg, value, path, errors):
    if not (value == arg and type(value) is type(arg)):
        errors.append("%s: %s is not %s" % (path, json.dumps(value), json.dumps(arg)))


def k_properties(root, schema, arg, value, path, errors):
    if not isinstance(value, dict):
        return
    for name, sub in arg.items():
        if name in value:
            validate(root, sub, value[name], "%s.%s" % (path, name), errors)


def k_required(root, schema, arg, value, path, errors):
    if isinstance(value, dict):
        for name in arg:
            if name not in value:
                errors.append("%s: required member %r is missing" % (path, name))


def k_additional(root, schema, arg, value, path, errors):
    if arg is not False:
        raise SchemaError("%s: additionalProperties must be false" % path)
    if isinstance(value, dict):
        for name in value:
            if name not in schema.get("properties", {}):
                errors.append("%s: member %r is not in the schema" % (path, name))


def k_items(root, schema, arg, value, path, errors):
    if isinstance(value, list):
        for i, v in enumerate(value):
            validate(root, arg, v, "%s[%d]" % (path, i), errors)


def k_min_items(root, schema, arg, value, path, errors):
    if isinstance(value, list) and len(value) < arg:
        errors.append("%s: fewer than %d items" % (path, arg))


def k_min_length(root, schema, arg, value, path, errors):
    if isinstance(value, str) and len(value) < arg:
        errors.append("%s: shorter than %d characters" % (path, arg))


def k_pattern(root, schema, arg, value, path, errors):
    if isinstance(value, str) and not re.search(arg, value):
        errors.append("%s: %s does not match %s" % (path, json.dumps(value), arg))


CHECKS = {
    "$ref": k_ref, "type": k_type, "enum": k_enum, "const": k_const,
    "properties": k_properties, "required": k_required, "additionalProperties": k_additional,
    "items": k_items, "minItems": k_min_items, "minLength": k_min_length, "pattern": k_pattern,
}


def main(argv):
    if len(argv) not in (2, 3):
        sys.stderr.write(__doc__)
        return 2
    schema = json.load(open(argv[1], encoding="utf-8"))
    text = open(argv[2], encoding="utf-8").read() if len(argv) == 3 else sys.stdin.read()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        sys.stderr.write("not JSON: %s\n" % e)
        return 1
    errors = []
    try:
        validate(schema, schema, doc, "$", errors)
    except SchemaError as e:
        sys.stderr.write("schema %s: %s\n" % (argv[1], e))
        return 2
    try:
        import jsonschema
    except ImportError:
        jsonschema = None
    if jsonschema is not None:
        v = jsonschema.Draft202012Validator(schema)
        theirs = sorted(v.iter_errors(doc), key=str)
        if bool(theirs) != bool(errors):
            sys.stderr.write("python3-jsonschema disagrees: %s\n"
                             % (theirs[0].message if theirs else "it finds the document valid"))
            return 2
    for e in errors:
        sys.stderr.write(e + "\n")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
