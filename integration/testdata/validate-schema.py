#!/usr/bin/python3
"""Validates the JSON document on stdin against the schema named by argv[1]
(its "$ref"s resolve relative to the schema's own file). Prints one line per
error, as "json/path: message", and exits 1 if there is any."""
import json
import pathlib
import sys

import jsonschema

schema_path = pathlib.Path(sys.argv[1]).resolve()
schema = json.loads(schema_path.read_text())
instance = json.load(sys.stdin)
resolver = jsonschema.RefResolver(base_uri=schema_path.as_uri(), referrer=schema)
validator = jsonschema.validators.validator_for(schema)(schema, resolver=resolver)
errors = sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
for error in errors:
    print("/".join(map(str, error.absolute_path)) + ": " + error.message)
sys.exit(1 if errors else 0)
