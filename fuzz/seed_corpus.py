#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz harnesses from the examples in api/openapi.yaml.

    fuzz/seed_corpus.py            rewrite fuzz/corpus/{http_request,body_decoders,jwt_verify}/seed-*
    fuzz/seed_corpus.py --check    exit 1 unless every request body in the API has a route in
                                   fuzz/request_decoders.cpp (run by scripts/fuzz before fuzzing)

Request bodies are the media-type `example`, else the schema's `example`, else an object built from the
`example` of each property (following $ref, allOf and array items). body_decoders seeds start with the
byte that picks their route: the index among the body routes of request_decoders.cpp's kRoutes, in order.
Files the fuzzer adds later (not named seed-*) are left alone.
"""
import json
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
ROUTE = re.compile(r'\{"(GET|POST|PUT|PATCH|DELETE)", "([^"]+)", \w+, (true|false)\}')


def table():
    text = (ROOT / "fuzz" / "request_decoders.cpp").read_text(encoding="utf-8")
    return [(m.group(1), m.group(2), m.group(3) == "true") for m in ROUTE.finditer(text)]


def resolve(spec, schema):
    while isinstance(schema, dict) and "$ref" in schema:
        node = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def example_of(spec, schema):
    schema = resolve(spec, schema)
    if not isinstance(schema, dict):
        return None
    if "example" in schema:
        return schema["example"]
    if "examples" in schema and isinstance(schema["examples"], list) and schema["examples"]:
        return schema["examples"][0]
    if "allOf" in schema:
        merged = {}
        for part in schema["allOf"]:
            value = example_of(spec, part)
            if isinstance(value, dict):
                merged.update(value)
        return merged or None
    if "properties" in schema:
        out = {}
        for name, prop in schema["properties"].items():
            value = example_of(spec, prop)
            if value is not None:
                out[name] = value
        return out or None
    if schema.get("type") == "array" and "items" in schema:
        item = example_of(spec, schema["items"])
        return None if item is None else [item]
    return None


def bodies(spec):
    """(method, path, [example bodies]) for every operation with a JSON request body."""
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            if not isinstance(op, dict) or "requestBody" not in op:
                continue
            media = resolve(spec, op["requestBody"]).get("content", {}).get("application/json", {})
            found = []
            if "example" in media:
                found.append(media["example"])
            for example in media.get("examples", {}).values():
                example = resolve(spec, example)
                if "value" in example:
                    found.append(example["value"])
            if not found:
                value = example_of(spec, media.get("schema", {}))
                if value is not None:
                    found.append(value)
            yield method.upper(), path, found


def concrete(path):
    return re.sub(r"\{[^}]+\}", "1", path)


def request(method, target, body=None):
    head = f"{method} {target} HTTP/1.1\r\nHost: marquee\r\nAuthorization: Bearer a.b.c\r\n"
    if body is None:
        return (head + "\r\n").encode()
    data = json.dumps(body, ensure_ascii=False).encode()
    head += f"Content-Type: application/json\r\nIdempotency-Key: seed-1\r\nContent-Length: {len(data)}\r\n\r\n"
    return head.encode() + data


def write(harness, name, data):
    folder = CORPUS / harness
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"seed-{name}").write_bytes(data)


def main():
    spec = yaml.safe_load((ROOT / "api" / "openapi.yaml").read_text(encoding="utf-8"))
    routes = table()
    body_routes = [(m, p) for m, p, has_body in routes if has_body]
    missing = [f"{m} {p}" for m, p, _ in bodies(spec) if (m, p) not in body_routes]
    if missing:
        sys.exit("fuzz/request_decoders.cpp has no body route for: " + ", ".join(missing))
    if "--check" in sys.argv:
        return
    for harness in ("http_request", "body_decoders", "jwt_verify"):
        for old in (CORPUS / harness).glob("seed-*"):
            old.unlink()
    for method, path, examples in bodies(spec):
        index = body_routes.index((method, path))
        slug = re.sub(r"[^a-z0-9]+", "-", f"{method} {path}".lower()).strip("-")
        for n, body in enumerate(examples or [{}]):
            write("body_decoders", f"{slug}-{n}", bytes([index]) + json.dumps(body, ensure_ascii=False).encode())
            write("http_request", f"{slug}-{n}", request(method, concrete(path), body))
    for method, path, has_body in routes:
        if not has_body:
            slug = re.sub(r"[^a-z0-9]+", "-", f"{method} {path}".lower()).strip("-")
            write("http_request", slug, request(method, concrete(path) + "?limit=10&cursor=MQ&scheduleId=1"))
    write("http_request", "chunked",
          b"POST /api/v1/auth/login HTTP/1.1\r\nHost: m\r\nContent-Type: application/json\r\n"
          b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
    claims = {"iss": "marquee", "aud": "marquee-api", "sub": "u", "roles": ["fan"], "iat": 1800000000,
              "nbf": 1800000000, "exp": 1800000900, "jti": "j"}
    header = {"alg": "EdDSA", "typ": "JWT", "kid": "k1"}
    write("jwt_verify", "claims", b"\x01" + json.dumps(claims).encode())
    write("jwt_verify", "header", b"\x02" + json.dumps(header).encode())
    write("jwt_verify", "token",
          b"\x00eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1In0.c2lnbmF0dXJl")


if __name__ == "__main__":
    main()
